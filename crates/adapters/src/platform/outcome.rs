//! What an answer (or its absence) means: success, retry, ambiguity, rejection, not found.

use super::*;

/// Maps a reqwest error (no usable response) onto an attempt outcome.
pub(super) fn transport_failure(action: Action, e: &reqwest::Error) -> Attempt {
    if e.is_builder() {
        return Attempt::Done(Err(PlatformError::Unavailable(format!(
            "{}: cannot build request",
            action.name()
        ))));
    }
    if e.is_connect() {
        // DNS, refused, connect timeout: the request never reached the platform.
        return Attempt::Retry(Why::ConnectFailed);
    }
    let why = if e.is_timeout() {
        Why::TimedOut
    } else {
        Why::ConnectionLost
    };
    if action.idempotent() {
        Attempt::Retry(why)
    } else {
        Attempt::Done(Err(action.unknown(why.as_str())))
    }
}

/// Maps an HTTP response onto an attempt outcome.
pub(super) fn classify(action: Action, status: u16, body: &[u8]) -> Attempt {
    let parsed: Option<Value> = serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object);
    let code = parsed
        .as_ref()
        .and_then(|v| field(v, "Code"))
        .and_then(as_string);
    if status == 429 || code.as_deref().is_some_and(|c| c.starts_with("Throttling")) {
        return Attempt::Retry(Why::Throttled);
    }
    if status >= 500 {
        return if action.idempotent() {
            Attempt::Retry(Why::ServerError)
        } else {
            // a gateway's answer leaves the platform possibly at work; the platform's own 500
            // ends the request
            let what = format!("HTTP {status}");
            Attempt::Done(Err(if matches!(status, 502..=504) {
                action.unknown(&what)
            } else {
                action.unclear(&what)
            }))
        };
    }
    let ok_status = (200..300).contains(&status);
    let Some(v) = parsed else {
        return Attempt::Done(Err(if ok_status {
            action.unclear("malformed response")
        } else {
            PlatformError::Rejected {
                code: format!("HTTP{status}"),
                message: "non-JSON error response".to_owned(),
            }
        }));
    };
    let success = match field(&v, "Success") {
        Some(s) => as_bool(s).unwrap_or(false),
        None => ok_status && code.as_deref().is_none_or(|c| c.eq_ignore_ascii_case("OK")),
    };
    if success {
        return Attempt::Done(Ok(v));
    }
    let code = code
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| format!("HTTP{status}"));
    if is_not_found(action, &code) {
        return Attempt::Done(Err(PlatformError::NotFound));
    }
    let message = field(&v, "Message")
        .and_then(as_string)
        .map(|m| mask_digits(&m))
        .unwrap_or_default();
    Attempt::Done(Err(PlatformError::Rejected { code, message }))
}

/// Whether `code` says the job group does not exist.
pub(super) fn is_not_found(action: Action, code: &str) -> bool {
    let c = code.to_ascii_lowercase();
    let missing = c.contains("notexist") || c.contains("notfound");
    if !missing {
        return false;
    }
    if c.contains("jobgroup") {
        return true;
    }
    // a bare "NotExists"-like code on a group action, unless it names another resource
    action.targets_group()
        && ![
            "script",
            "instance",
            "accesskey",
            "number",
            "contact",
            "tag",
        ]
        .iter()
        .any(|o| c.contains(o))
}

/// Masks runs of 7+ digits (phone numbers in vendor messages): keeps the first 3 and last 2.
pub(super) fn mask_digits(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 7 {
            out.push_str(&run[..3]);
            out.push_str("****");
            out.push_str(&run[run.len() - 2..]);
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for ch in s.chars() {
        if ch.is_ascii_digit() {
            run.push(ch);
        } else {
            flush(&mut run, &mut out);
            out.push(ch);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Full-jitter backoff before retry number `attempt + 1`: uniform in
/// `0 ..= min(backoff_max, backoff_base * 2^attempt)`.
pub(super) fn backoff(settings: &PlatformSettings, attempt: u32) -> Duration {
    let factor = 1u32.checked_shl(attempt).unwrap_or(u32::MAX);
    let cap = settings
        .backoff_base
        .saturating_mul(factor)
        .min(settings.backoff_max);
    let cap_nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rand::thread_rng().gen_range(0..=cap_nanos))
}

// ---- lenient JSON access ----
