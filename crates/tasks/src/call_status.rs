//! Call statuses of task leads and the mapping of platform results onto them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::platform::{JobResult, JobStatus};

/// The status of one lead in a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = CallStatusDto))]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    /// Not yet sent to the platform.
    Pending,
    /// Claimed by a dispatcher; the platform request is in flight or its outcome unknown.
    Assigning,
    /// Sent: the platform has a job for it.
    Dispatched,
    /// Being called.
    Calling,
    /// Final: answered.
    Connected,
    /// Final: not answered.
    NoAnswer,
    /// Final: line busy.
    Busy,
    /// Final: number unreachable (not exist, powered off, out of service, ...).
    Unreachable,
    /// Final: refused by the platform (daily limit, block list).
    Rejected,
    /// Final: the call failed.
    Failed,
    /// Final: cancelled (task stopped).
    Cancelled,
}

impl CallStatus {
    /// Every status.
    pub const ALL: [CallStatus; 11] = [
        CallStatus::Pending,
        CallStatus::Assigning,
        CallStatus::Dispatched,
        CallStatus::Calling,
        CallStatus::Connected,
        CallStatus::NoAnswer,
        CallStatus::Busy,
        CallStatus::Unreachable,
        CallStatus::Rejected,
        CallStatus::Failed,
        CallStatus::Cancelled,
    ];

    /// Stored / wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Pending => "pending",
            CallStatus::Assigning => "assigning",
            CallStatus::Dispatched => "dispatched",
            CallStatus::Calling => "calling",
            CallStatus::Connected => "connected",
            CallStatus::NoAnswer => "no_answer",
            CallStatus::Busy => "busy",
            CallStatus::Unreachable => "unreachable",
            CallStatus::Rejected => "rejected",
            CallStatus::Failed => "failed",
            CallStatus::Cancelled => "cancelled",
        }
    }

    /// From the stored name.
    pub fn parse(s: &str) -> Option<CallStatus> {
        CallStatus::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Whether the lead will not change any more.
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            CallStatus::Pending
                | CallStatus::Assigning
                | CallStatus::Dispatched
                | CallStatus::Calling
        )
    }

    /// Whether a dial was attempted (counts as "called").
    pub fn is_called(self) -> bool {
        matches!(
            self,
            CallStatus::Connected
                | CallStatus::NoAnswer
                | CallStatus::Busy
                | CallStatus::Unreachable
                | CallStatus::Failed
        )
    }

    /// Final statuses.
    pub fn finals() -> Vec<CallStatus> {
        CallStatus::ALL
            .into_iter()
            .filter(|c| c.is_final())
            .collect()
    }

    /// Statuses that count as called.
    pub fn called() -> Vec<CallStatus> {
        CallStatus::ALL
            .into_iter()
            .filter(|c| c.is_called())
            .collect()
    }

    /// Statuses of leads not finished yet (a task with none of these is done).
    pub fn unfinished() -> Vec<CallStatus> {
        CallStatus::ALL
            .into_iter()
            .filter(|c| !c.is_final())
            .collect()
    }

    /// Counts per status (wire names), every status present, from (status, count) pairs.
    pub fn tally(counts: impl IntoIterator<Item = (String, i64)>) -> BTreeMap<String, i64> {
        let mut out: BTreeMap<String, i64> = CallStatus::ALL
            .iter()
            .map(|s| (s.as_str().to_owned(), 0))
            .collect();
        for (status, n) in counts {
            *out.entry(status).or_insert(0) += n;
        }
        out
    }
}

/// Map a platform call status code (docs/platform.md) to a final call status.
pub fn map_call_code(code: i32) -> Option<CallStatus> {
    Some(match code {
        1 | 20..=31 => CallStatus::Connected,
        2 => CallStatus::NoAnswer,
        4 => CallStatus::Busy,
        3 | 7 | 8 | 9 | 10 | 11 => CallStatus::Unreachable,
        6 => CallStatus::Failed,
        5 | 15 => CallStatus::Cancelled,
        12 | 13 => CallStatus::Rejected,
        _ => return None,
    })
}

/// The tag group that carries the intent level.
pub const INTENT_TAG_GROUP: &str = "意向等级";

/// What a platform result means for a task lead.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadResult {
    /// The task lead (`leads_task_list.id`, the reference id).
    pub task_lead_id: kernel::TaskLeadId,
    /// Platform job id.
    pub job_id: String,
    /// New status.
    pub call_status: CallStatus,
    /// Attempts so far.
    pub attempts: i32,
    /// Latest call time.
    pub last_call_time: Option<DateTime<Utc>>,
    /// Latest call duration, seconds.
    pub duration_seconds: Option<i32>,
    /// Intent level from the tags (e.g. A).
    pub intent_level: Option<String>,
    /// All tag names.
    pub intent_tags: Vec<String>,
    /// Summary text.
    pub summary: Option<String>,
    /// Suggested follow-up.
    pub follow_suggestion: Option<String>,
}

/// A follow-up suggestion for an outcome and intent level.
pub fn follow_suggestion(status: CallStatus, intent: Option<&str>) -> Option<String> {
    let s = match (status, intent) {
        (CallStatus::Connected, Some("A")) | (CallStatus::Connected, Some("H")) => {
            "高意向：建议 24 小时内人工回访并邀约到店试驾"
        }
        (CallStatus::Connected, Some("B")) => "中意向：建议 3 天内回访，发送车型资料与优惠信息",
        (CallStatus::Connected, Some("C")) => "低意向：建议纳入长期培育，定期推送活动",
        (CallStatus::Connected, _) => "已接通：建议人工复核通话内容后确定跟进计划",
        (CallStatus::NoAnswer, _) | (CallStatus::Busy, _) => "未接通：建议换个时段再次外呼",
        (CallStatus::Unreachable, _) => "号码无法接通：建议核实号码",
        (CallStatus::Rejected, _) => "平台拒呼：请检查外呼频次限制或黑名单",
        (CallStatus::Failed, _) => "外呼失败：可稍后重试",
        _ => return None,
    };
    Some(s.to_owned())
}

/// Interpret one platform job result. `None` when the reference id is not one of ours.
pub fn interpret(r: &JobResult) -> Option<LeadResult> {
    let task_lead_id = kernel::TaskLeadId(r.reference_id.trim().parse().ok()?);
    let by_call = r.call_status.and_then(map_call_code);
    let call_status = match r.job_status {
        JobStatus::Succeeded | JobStatus::Failed => {
            by_call.unwrap_or(if r.job_status == JobStatus::Failed {
                CallStatus::Failed
            } else {
                CallStatus::Connected
            })
        }
        JobStatus::Cancelled => match by_call {
            Some(c) if c.is_called() => c,
            _ => CallStatus::Cancelled,
        },
        JobStatus::Executing => CallStatus::Calling,
        JobStatus::Scheduling | JobStatus::Paused => CallStatus::Dispatched,
    };
    let intent_level = r
        .tags
        .iter()
        .find(|t| t.group == INTENT_TAG_GROUP)
        .map(|t| t.name.clone());
    let intent_tags: Vec<String> = r.tags.iter().map(|t| t.name.clone()).collect();
    let duration_seconds = r
        .call_duration_ms
        .map(|ms| i32::try_from(ms / 1000).unwrap_or(i32::MAX));
    Some(LeadResult {
        task_lead_id,
        job_id: r.job_id.clone(),
        call_status,
        attempts: r.attempts,
        last_call_time: r.call_time,
        duration_seconds,
        follow_suggestion: follow_suggestion(call_status, intent_level.as_deref()),
        intent_level,
        intent_tags,
        summary: r.summary.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::TagHit;

    fn result(status: JobStatus, code: Option<i32>) -> JobResult {
        JobResult {
            job_id: "j1".into(),
            reference_id: "42".into(),
            job_status: status,
            call_status: code,
            has_answered: code == Some(1),
            call_time: None,
            call_duration_ms: Some(61_500),
            end_reason: None,
            tags: vec![TagHit {
                group: INTENT_TAG_GROUP.into(),
                name: "A".into(),
            }],
            summary: None,
            attempts: 1,
        }
    }

    #[test]
    fn maps_codes_of_the_platform() {
        assert_eq!(map_call_code(1), Some(CallStatus::Connected));
        assert_eq!(map_call_code(25), Some(CallStatus::Connected));
        assert_eq!(map_call_code(2), Some(CallStatus::NoAnswer));
        assert_eq!(map_call_code(4), Some(CallStatus::Busy));
        for c in [3, 7, 8, 9, 10, 11] {
            assert_eq!(map_call_code(c), Some(CallStatus::Unreachable));
        }
        assert_eq!(map_call_code(6), Some(CallStatus::Failed));
        assert_eq!(map_call_code(15), Some(CallStatus::Cancelled));
        assert_eq!(map_call_code(13), Some(CallStatus::Rejected));
        assert_eq!(map_call_code(0), None);
    }

    #[test]
    fn interprets_final_and_running_jobs() {
        let r = interpret(&result(JobStatus::Succeeded, Some(1))).unwrap();
        assert_eq!(
            (r.task_lead_id, r.call_status, r.duration_seconds),
            (kernel::TaskLeadId(42), CallStatus::Connected, Some(61))
        );
        assert_eq!(r.intent_level.as_deref(), Some("A"));
        assert!(r.follow_suggestion.is_some());
        assert_eq!(
            interpret(&result(JobStatus::Executing, Some(0)))
                .unwrap()
                .call_status,
            CallStatus::Calling
        );
        assert_eq!(
            interpret(&result(JobStatus::Scheduling, None))
                .unwrap()
                .call_status,
            CallStatus::Dispatched
        );
        assert_eq!(
            interpret(&result(JobStatus::Cancelled, None))
                .unwrap()
                .call_status,
            CallStatus::Cancelled
        );
        assert_eq!(
            interpret(&result(JobStatus::Failed, Some(6)))
                .unwrap()
                .call_status,
            CallStatus::Failed
        );
        let mut foreign = result(JobStatus::Succeeded, Some(1));
        foreign.reference_id = "not-ours".into();
        assert!(interpret(&foreign).is_none());
    }

    #[test]
    fn counting_sets_follow_the_contract() {
        assert!(CallStatus::Failed.is_called() && !CallStatus::Rejected.is_called());
        assert!(!CallStatus::Cancelled.is_called() && CallStatus::Cancelled.is_final());
        assert!(!CallStatus::Assigning.is_final());
    }
}
