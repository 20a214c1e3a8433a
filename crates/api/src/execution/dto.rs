//! DTOs of running tasks: lifecycle, results, runs, the monitor.

use std::collections::BTreeMap;

use kernel::{Pagination, format_time, mask_phone};
use serde::{Deserialize, Serialize};
use tasks::CallTask;
use tasks::call_status::CallStatus;
use tasks::execution::{ExecutionRow, MonitorStatus, Run, RunStatus, Started, TaskStatistics};
use utoipa::{IntoParams, ToSchema};

/// `{ task_id }` bodies.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskIdBody {
    /// The task.
    pub task_id: i64,
}

/// `suspend` or `resume`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SuspendAction {
    /// 2 → 4.
    Suspend,
    /// 4 → 2.
    Resume,
}

/// `POST /api/suspend-resume-task` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuspendBody {
    /// The task.
    pub task_id: i64,
    /// `suspend` (2 → 4) or `resume` (4 → 2).
    pub action: SuspendAction,
}

/// `data` of `POST /api/start-call-task`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StartedDto {
    /// The task.
    pub task_id: i64,
    /// Always 2 (running).
    #[schema(minimum = 2, maximum = 2, example = 2)]
    pub task_type: i16,
    /// The platform job group.
    pub job_group_id: String,
    /// Leads to call.
    pub leads_total: i64,
}

impl From<Started> for StartedDto {
    fn from(s: Started) -> Self {
        Self {
            task_id: s.task_id.0,
            task_type: tasks::TaskState::Running.code(),
            job_group_id: s.job_group_id,
            leads_total: s.leads_total,
        }
    }
}

/// `POST /api/query-task-execution` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecutionBody {
    /// The task.
    pub task_id: i64,
    /// Page number, from 1 (default 1).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000000, default = 1)]
    pub page: Option<i64>,
    /// Items per page, 1..=100 (default 20).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100, default = 20)]
    pub page_size: Option<i64>,
    /// Only leads in this call status.
    #[serde(default)]
    #[schema(value_type = Option<CallStatus>)]
    pub call_status: Option<String>,
    /// Pull the latest results from the platform first.
    #[serde(default)]
    #[schema(default = false)]
    pub refresh: Option<bool>,
}

/// A per-lead execution row.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExecutionRowDto {
    /// The lead.
    pub lead_id: i64,
    /// Customer name.
    pub customer_name: String,
    /// Masked phone.
    #[schema(example = "138****5678")]
    pub phone: String,
    /// Call status.
    pub call_status: CallStatus,
    /// Dial attempts.
    pub attempts: i32,
    /// Last call, `YYYY-MM-DD HH:MM:SS`.
    #[schema(required = true)]
    pub last_call_time: Option<String>,
    /// Duration of the connected call.
    #[schema(required = true)]
    pub duration_seconds: Option<i32>,
    /// Intent level from the call.
    #[schema(required = true)]
    pub intent_level: Option<String>,
    /// Platform job id.
    #[schema(required = true)]
    pub job_id: Option<String>,
}

impl ExecutionRowDto {
    /// A row as the API shows it: phone masked, times in `tz`.
    pub fn new(r: ExecutionRow, tz: chrono_tz::Tz) -> Self {
        Self {
            lead_id: r.lead_id.0,
            customer_name: r.customer_name,
            phone: mask_phone(&r.phone),
            call_status: r.call_status,
            attempts: r.attempts,
            last_call_time: r.last_call_time.map(|t| format_time(t, tz)),
            duration_seconds: r.duration_seconds,
            intent_level: r.intent_level,
            job_id: r.job_id,
        }
    }
}

/// `data` of `POST /api/query-task-execution`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExecutionPageDto {
    /// Rows of this page.
    pub items: Vec<ExecutionRowDto>,
    /// Totals.
    pub pagination: Pagination,
    /// Leads of the task per call status (every status, zeros included).
    pub summary: BTreeMap<String, i64>,
}

/// `GET /api/get-leads-follow` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FollowQuery {
    /// The task.
    pub task_id: i64,
    /// Page number, from 1 (default 1).
    #[param(minimum = 1, maximum = 1000000, default = 1)]
    pub page: Option<i64>,
    /// Items per page, 1..=100 (default 20).
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub page_size: Option<i64>,
}

/// A follow-up row of `GET /api/get-leads-follow`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FollowRowDto {
    /// The lead.
    pub lead_id: i64,
    /// Customer name.
    pub customer_name: String,
    /// Masked phone.
    #[schema(example = "138****5678")]
    pub phone: String,
    /// Call status.
    pub call_status: CallStatus,
    /// Intent level from the call.
    #[schema(required = true)]
    pub intent_level: Option<String>,
    /// Intent tags from the call.
    pub intent_tags: Vec<String>,
    /// Call summary.
    #[schema(required = true)]
    pub summary: Option<String>,
    /// Suggested follow-up.
    #[schema(required = true)]
    pub follow_suggestion: Option<String>,
    /// Last call, `YYYY-MM-DD HH:MM:SS`.
    #[schema(required = true)]
    pub call_time: Option<String>,
    /// Duration of the connected call.
    #[schema(required = true)]
    pub duration_seconds: Option<i32>,
}

impl FollowRowDto {
    /// A follow-up row as the API shows it: phone masked, times in `tz`.
    pub fn new(r: ExecutionRow, tz: chrono_tz::Tz) -> Self {
        Self {
            lead_id: r.lead_id.0,
            customer_name: r.customer_name,
            phone: mask_phone(&r.phone),
            call_status: r.call_status,
            intent_level: r.intent_level,
            intent_tags: r.intent_tags,
            summary: r.summary,
            follow_suggestion: r.follow_suggestion,
            call_time: r.last_call_time.map(|t| format_time(t, tz)),
            duration_seconds: r.duration_seconds,
        }
    }
}

/// `GET /api/task-statistics` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TaskIdQuery {
    /// The task.
    pub task_id: i64,
}

/// `data` of `GET /api/task-statistics`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaskStatisticsDto {
    /// The task.
    pub task_id: i64,
    /// Its state (1..5).
    #[schema(minimum = 1, maximum = 5)]
    pub task_type: i16,
    /// Leads in the task.
    pub leads_total: i64,
    /// Leads with a platform job.
    pub dispatched: i64,
    /// Leads whose dial was attempted.
    pub called: i64,
    /// Leads whose call connected.
    pub connected: i64,
    /// connected / called, 0..1 (0 when nothing was called).
    #[schema(minimum = 0, maximum = 1)]
    pub connect_rate: f64,
    /// Average duration of connected calls.
    pub avg_duration_seconds: f64,
    /// Leads per call status.
    pub by_call_status: BTreeMap<String, i64>,
    /// Leads per intent level.
    pub by_intent_level: BTreeMap<String, i64>,
    /// Final leads / leads × 100, one decimal.
    #[schema(minimum = 0, maximum = 100)]
    pub progress: f64,
}

impl TaskStatisticsDto {
    /// A task's statistics as the API shows them.
    pub fn new(task: &CallTask, s: TaskStatistics) -> Self {
        Self {
            task_id: task.id.0,
            task_type: task.state.code(),
            connect_rate: s.connect_rate(),
            progress: s.progress(),
            leads_total: s.leads_total,
            dispatched: s.dispatched,
            called: s.called,
            connected: s.connected,
            avg_duration_seconds: s.avg_duration_seconds,
            by_call_status: s.by_call_status,
            by_intent_level: s.by_intent_level,
        }
    }
}

/// `GET /api/get-query-execution-run` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RunQuery {
    /// The run.
    pub run_id: i64,
}

/// A query execution run.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunDto {
    /// Id.
    pub run_id: i64,
    /// The task.
    pub task_id: i64,
    /// Status.
    pub status: RunStatus,
    /// Leads of the task.
    pub total: i64,
    /// Results pulled so far.
    pub processed: i64,
    /// processed / total × 100, one decimal (100 when succeeded).
    #[schema(minimum = 0, maximum = 100)]
    pub progress: f64,
    /// When a worker started it.
    #[schema(required = true)]
    pub started_at: Option<String>,
    /// When it finished.
    #[schema(required = true)]
    pub finished_at: Option<String>,
    /// Why it failed.
    #[schema(required = true)]
    pub error: Option<String>,
}

impl RunDto {
    /// A run as the API shows it, times in `tz`.
    pub fn new(r: Run, tz: chrono_tz::Tz) -> Self {
        Self {
            progress: r.progress(),
            run_id: r.id.0,
            task_id: r.task_id.0,
            status: r.status,
            total: r.total,
            processed: r.processed,
            started_at: r.started_at.map(|t| format_time(t, tz)),
            finished_at: r.finished_at.map(|t| format_time(t, tz)),
            error: r.error,
        }
    }
}

/// `start`, `stop` or `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AutoTaskAction {
    /// Start the monitor (admin).
    Start,
    /// Stop the monitor (admin).
    Stop,
    /// Report its status.
    Check,
}

/// `POST /api/auto-task` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoTaskBody {
    /// `start` or `stop` (admin), or `check`.
    pub action: AutoTaskAction,
}

/// `data` of `POST /api/auto-task`: the monitor of this instance.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MonitorDto {
    /// Whether it ticks.
    pub running: bool,
    /// Tick interval.
    pub interval_seconds: u64,
    /// Last tick, `YYYY-MM-DD HH:MM:SS`.
    #[schema(required = true)]
    pub last_tick_at: Option<String>,
    /// Error of the last tick.
    #[schema(required = true)]
    pub last_error: Option<String>,
    /// Tasks the last tick looked at.
    pub tasks_watched: u64,
}

impl MonitorDto {
    /// The monitor's status as the API shows it, times in `tz`.
    pub fn new(s: MonitorStatus, tz: chrono_tz::Tz) -> Self {
        Self {
            running: s.running,
            interval_seconds: s.interval.as_secs(),
            last_tick_at: s.last_tick_at.map(|t| format_time(t, tz)),
            last_error: s.last_error,
            tasks_watched: s.tasks_watched,
        }
    }
}
