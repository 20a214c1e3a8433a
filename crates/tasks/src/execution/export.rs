//! Exporting a task's results for people who work from spreadsheets: the columns, the cells
//! (phones masked unless an admin asked otherwise; text that a spreadsheet would run as a
//! formula defused), read from storage a page at a time so that no export holds a task's rows.

use std::sync::Arc;

use chrono_tz::Tz;
use kernel::{Entity, OrgScope, RepoError, TaskId, TaskLeadId, mask_phone};

use super::ExecError;
use super::results::{ExecutionRow, ResultRepository};
use crate::CallTask;
use crate::TaskRepository;
use crate::call_status::CallStatus;

/// The header of an export, in column order.
pub const COLUMNS: [&str; 14] = [
    "线索ID",
    "客户姓名",
    "电话",
    "线索级别",
    "来源",
    "意向车型",
    "外呼状态",
    "外呼次数",
    "最近外呼时间",
    "通话时长(秒)",
    "意向等级",
    "意向标签",
    "通话摘要",
    "跟进建议",
];

/// Rows read from storage at a time.
pub const EXPORT_PAGE: i64 = 1000;

/// One lead of a task with its latest result and the lead's own fields, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRow {
    /// The lead's result.
    pub result: ExecutionRow,
    /// The lead's level (`H`, `A`, ...).
    pub level: String,
    /// Where the lead came from.
    pub source: String,
    /// The vehicle model of interest.
    pub vehicle_model: String,
}

/// A cell of an export.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text, already defused ([`defuse`]).
    Text(String),
    /// A whole number.
    Number(i64),
    /// Nothing.
    Empty,
}

/// OWASP's advice against CSV injection: a cell that starts with `=`, `+`, `-`, `@`, a tab or a
/// carriage return gets a leading `'`, so that a spreadsheet shows it as text instead of running
/// it.
pub fn defuse(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

fn text(s: impl AsRef<str>) -> Cell {
    let s = s.as_ref();
    if s.is_empty() {
        Cell::Empty
    } else {
        Cell::Text(defuse(s))
    }
}

/// The cells of `row`, in [`COLUMNS`] order, times in `tz`.
pub fn cells(
    row: &ExportRow,
    unmasked: bool,
    tz: Tz,
    status_name: fn(CallStatus) -> &'static str,
) -> Vec<Cell> {
    let r = &row.result;
    let phone = if unmasked {
        r.phone.clone()
    } else {
        mask_phone(&r.phone)
    };
    vec![
        Cell::Number(r.lead_id.0),
        text(&r.customer_name),
        text(phone),
        text(&row.level),
        text(&row.source),
        text(&row.vehicle_model),
        text(status_name(r.call_status)),
        Cell::Number(i64::from(r.attempts)),
        r.last_call_time
            .map_or(Cell::Empty, |t| Cell::Text(kernel::format_time(t, tz))),
        r.duration_seconds
            .map_or(Cell::Empty, |d| Cell::Number(i64::from(d))),
        r.intent_level.as_deref().map_or(Cell::Empty, text),
        text(r.intent_tags.join("、")),
        r.summary.as_deref().map_or(Cell::Empty, text),
        r.follow_suggestion.as_deref().map_or(Cell::Empty, text),
    ]
}

/// An export under way: the task, and where the next page starts.
pub struct Export {
    /// The task exported.
    pub task: CallTask,
    /// Whether phones are shown whole.
    pub unmasked: bool,
    statuses: Vec<CallStatus>,
    after: Option<TaskLeadId>,
    done: bool,
    repo: Arc<dyn ResultRepository>,
}

impl Export {
    /// The next page of rows in id order; `None` after the last.
    pub async fn next_page(&mut self) -> Result<Option<Vec<ExportRow>>, RepoError> {
        if self.done {
            return Ok(None);
        }
        let rows = self
            .repo
            .export_page(self.task.id, &self.statuses, self.after, EXPORT_PAGE)
            .await?;
        self.done = (rows.len() as i64) < EXPORT_PAGE;
        self.after = rows.last().map(|r| r.result.id).or(self.after);
        Ok((!rows.is_empty()).then_some(rows))
    }
}

/// Start exporting task `id` of `scope`, of the call statuses named in `statuses` (their wire
/// names; none: all). Whether the caller may see whole phones is the caller's to decide.
pub async fn start(
    repo: Arc<dyn ResultRepository>,
    tasks: &dyn TaskRepository,
    scope: &OrgScope,
    id: TaskId,
    statuses: &[&str],
    unmasked: bool,
) -> Result<Export, ExecError> {
    let statuses = statuses
        .iter()
        .map(|s| CallStatus::parse(s).ok_or_else(|| ExecError::UnknownCallStatus((*s).to_owned())))
        .collect::<Result<Vec<_>, _>>()?;
    let task = tasks
        .get(scope, id)
        .await?
        .ok_or(ExecError::NotFound(Entity::Task))?;
    Ok(Export {
        task,
        unmasked,
        statuses,
        after: None,
        done: false,
        repo,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_a_spreadsheet_would_run_are_defused() {
        for bad in ["=1+1", "+86", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(defuse(bad), format!("'{bad}"));
        }
        for fine in ["王先生", "a=b", "1-2", ""] {
            assert_eq!(defuse(fine), fine);
        }
    }
}
