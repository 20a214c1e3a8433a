//! Reading the platform's JSON: lenient about number-or-string fields, strict about what the
//! domain needs.

use super::*;

/// `v[key]` unless missing or null.
pub(super) fn field<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|x| !x.is_null())
}

pub(super) fn as_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub(super) fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>().ok().or_else(|| {
                s.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(|f| f as i64)
            })
        }
        _ => None,
    }
}

pub(super) fn as_u64(v: &Value) -> u64 {
    as_i64(v).and_then(|n| u64::try_from(n).ok()).unwrap_or(0)
}

pub(super) fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_f64().map(|f| f != 0.0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" | "" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

pub(super) fn str_at(v: &Value, key: &str) -> Option<String> {
    field(v, key).and_then(as_string)
}

pub(super) fn u64_at(v: &Value, key: &str) -> u64 {
    field(v, key).map(as_u64).unwrap_or(0)
}

/// Job status string → [`JobStatus`] (unknown → `Scheduling`).
pub(super) fn job_status(s: &str) -> JobStatus {
    match s.trim().to_ascii_lowercase().as_str() {
        "executing" => JobStatus::Executing,
        "succeeded" => JobStatus::Succeeded,
        "paused" => JobStatus::Paused,
        "failed" => JobStatus::Failed,
        "cancelled" | "canceled" => JobStatus::Cancelled,
        _ => JobStatus::Scheduling,
    }
}

/// Call status: a code (number or numeric string), or the vendor's name for it.
pub(super) fn call_status(v: &Value) -> Option<i32> {
    if let Some(n) = as_i64(v) {
        return i32::try_from(n).ok();
    }
    let code = match v.as_str()?.trim() {
        "Executing" => 0,
        "Succeeded" => 1,
        "NoAnswer" => 2,
        "NotExist" => 3,
        "Busy" => 4,
        "Cancelled" => 5,
        "Failed" => 6,
        "NotConnected" => 7,
        "PoweredOff" => 8,
        "OutOfService" => 9,
        "InArrears" => 10,
        "EmptyNumber" => 11,
        "PerDayCallCountLimit" => 12,
        "ContactBlockList" => 13,
        "Terminated" => 15,
        _ => return None,
    };
    Some(code)
}

/// `CallTime`: epoch milliseconds (number or numeric string) or an RFC 3339 string.
pub(super) fn call_time(v: &Value) -> Option<DateTime<Utc>> {
    if let Some(ms) = as_i64(v) {
        return if ms > 0 {
            DateTime::from_timestamp_millis(ms)
        } else {
            None
        };
    }
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s.trim()).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// A contact's `ReferenceId`, from an object or the first element of an array.
pub(super) fn reference_of(contact: &Value) -> Option<String> {
    match contact {
        Value::Array(items) => items.iter().find_map(reference_of),
        Value::Object(_) => str_at(contact, "ReferenceId").filter(|r| !r.is_empty()),
        _ => None,
    }
}

/// One element of `Jobs.List`.
pub(super) fn parse_job(job: &Value) -> JobResult {
    let task = field(job, "LatestTask").filter(|t| t.is_object());
    let reference_id = task
        .and_then(|t| field(t, "Contact"))
        .and_then(reference_of)
        .or_else(|| field(job, "Contacts").and_then(reference_of))
        .or_else(|| field(job, "Contact").and_then(reference_of))
        .unwrap_or_default();
    let call_time = task.and_then(|t| field(t, "CallTime")).and_then(call_time);
    let tags = task
        .and_then(|t| field(t, "TagHits"))
        .and_then(Value::as_array)
        .map(|hits| {
            hits.iter()
                .map(|h| TagHit {
                    group: str_at(h, "TagGroup").unwrap_or_default(),
                    name: str_at(h, "TagName").unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    JobResult {
        job_id: str_at(job, "Id")
            .or_else(|| str_at(job, "JobId"))
            .unwrap_or_default(),
        reference_id,
        job_status: job_status(&str_at(job, "Status").unwrap_or_default()),
        call_status: task.and_then(|t| field(t, "Status")).and_then(call_status),
        has_answered: task
            .and_then(|t| field(t, "HasAnswered"))
            .and_then(as_bool)
            .unwrap_or(false),
        call_time,
        call_duration_ms: task.and_then(|t| field(t, "CallDuration")).and_then(as_i64),
        end_reason: task
            .and_then(|t| field(t, "TaskEndReason"))
            .and_then(as_string)
            .filter(|r| !r.is_empty()),
        tags,
        summary: task
            .and_then(|t| field(t, "Summary"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        attempts: i32::from(call_time.is_some()),
    }
}
