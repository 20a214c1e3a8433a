//! HTTP adapter of the outbound-call platform port ([`tasks::OutboundPlatform`]), speaking the
//! Alibaba Cloud OutboundBot RPC style (API version 2019-12-26, signature v1) described in
//! docs/platform.md.
//!
//! Every call is a `POST {base_url}/` with a form-encoded, signed parameter set. Failures are
//! mapped onto [`PlatformError`]:
//!
//! - throttling (`Code: "Throttling*"`, or HTTP 429) is retried with exponential backoff and full
//!   jitter, and becomes [`PlatformError::Unavailable`] once the retries are spent;
//! - a request that never reached the platform (connection refused, DNS, connect timeout) is
//!   retried likewise;
//! - HTTP 5xx and timeouts *after sending* are retried for idempotent actions only; for
//!   `CreateJobGroup` / `AssignJobs` they become [`PlatformError::Ambiguous`] at once, because the
//!   work may have been done and the caller has to reconcile before resending;
//! - `Success: false` becomes [`PlatformError::Rejected`], or [`PlatformError::NotFound`] when the
//!   job group does not exist.
//!
//! The secret is never logged, and neither errors nor logs carry request parameters (so no phone
//! numbers); vendor messages are passed on with long digit runs masked.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rand::Rng as _;
use serde_json::{Value, json};
use sha1::Sha1;
use tasks::platform::{
    AssignedJob, Contact, GroupProgress, JobResult, JobResultPage, JobStatus, MAX_ASSIGN_BATCH,
    Strategy, TagHit,
};
use tasks::{OutboundPlatform, PlatformError};

/// API version of OutboundBot this adapter speaks.
pub const API_VERSION: &str = "2019-12-26";

/// RFC 3986 unreserved characters stay, everything else is `%XX` (uppercase hex).
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Connection and retry settings of [`HttpPlatform`].
#[derive(Clone)]
pub struct PlatformSettings {
    /// Base URL of the platform, e.g. `http://127.0.0.1:9000`; requests go to `{base_url}/`.
    pub base_url: String,
    /// Access key id (`AccessKeyId`).
    pub app_key: String,
    /// Access key secret; used for signing only, never logged (redacted in `Debug`).
    pub app_secret: String,
    /// OutboundBot instance id (`InstanceId`).
    pub instance_id: String,
    /// Timeout of one HTTP attempt (default 5 s).
    pub request_timeout: Duration,
    /// Retries after the first attempt (default 5).
    pub max_retries: u32,
    /// First backoff step (default 200 ms); doubles each retry, full jitter, capped at `backoff_max`.
    pub backoff_base: Duration,
    /// Largest backoff (default 5 s).
    pub backoff_max: Duration,
    /// Most requests per second this client sends (`None`: no pacing). Pacing below the
    /// platform's throttle avoids spending its budget on refused requests.
    pub max_qps: Option<u32>,
}

impl Default for PlatformSettings {
    fn default() -> Self {
        Self {
            base_url: "http://127.0.0.1:9000".to_owned(),
            app_key: "sim-key".to_owned(),
            app_secret: "sim-secret".to_owned(),
            instance_id: "sim".to_owned(),
            request_timeout: Duration::from_secs(5),
            max_retries: 5,
            backoff_base: Duration::from_millis(200),
            backoff_max: Duration::from_secs(5),
            max_qps: None,
        }
    }
}

impl fmt::Debug for PlatformSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlatformSettings")
            .field("base_url", &self.base_url)
            .field("app_key", &self.app_key)
            .field("app_secret", &"<redacted>")
            .field("instance_id", &self.instance_id)
            .field("request_timeout", &self.request_timeout)
            .field("max_retries", &self.max_retries)
            .field("backoff_base", &self.backoff_base)
            .field("backoff_max", &self.backoff_max)
            .field("max_qps", &self.max_qps)
            .finish()
    }
}

/// Percent-encodes `s` as RFC 3986 requires for signature v1 (space `%20`, `*` `%2A`, `~` kept).
pub fn percent_encode(s: &str) -> String {
    utf8_percent_encode(s, RFC3986).to_string()
}

/// Signature v1: sorts `params` (which must not contain `Signature`) by name, builds the canonical
/// query with RFC 3986 encoding, `StringToSign = METHOD & enc("/") & enc(canonical)`, and returns
/// `base64(HMAC-SHA1(secret + "&", StringToSign))`.
pub fn sign(method: &str, params: &[(String, String)], secret: &str) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    let canonical = sorted
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let string_to_sign = format!(
        "{}&{}&{}",
        method,
        percent_encode("/"),
        percent_encode(&canonical)
    );
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(format!("{secret}&").as_bytes()) else {
        // HMAC takes keys of any length; this branch cannot be reached.
        return String::new();
    };
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Form-encodes `params` (`k=v&...`) with the RFC 3986 encoder.
fn form_encode(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The OutboundBot actions this adapter uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    CreateJobGroup,
    AssignJobs,
    SuspendJobs,
    ResumeJobs,
    CancelJobs,
    QueryJobsWithResult,
    DescribeJobGroup,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::CreateJobGroup => "CreateJobGroup",
            Action::AssignJobs => "AssignJobs",
            Action::SuspendJobs => "SuspendJobs",
            Action::ResumeJobs => "ResumeJobs",
            Action::CancelJobs => "CancelJobs",
            Action::QueryJobsWithResult => "QueryJobsWithResult",
            Action::DescribeJobGroup => "DescribeJobGroup",
        }
    }

    /// Whether sending it twice does no harm (so a lost response may be retried).
    fn idempotent(self) -> bool {
        !matches!(self, Action::CreateJobGroup | Action::AssignJobs)
    }

    /// Whether it names an existing job group (so "not exists" means that group).
    fn targets_group(self) -> bool {
        self != Action::CreateJobGroup
    }

    /// The error for an outcome we cannot know: ambiguous if the action may have had an effect.
    fn unknown(self, what: &str) -> PlatformError {
        if self.idempotent() {
            PlatformError::Unavailable(format!("{}: {what}", self.name()))
        } else {
            PlatformError::Ambiguous(format!("{}: {what}", self.name()))
        }
    }
}

/// What one HTTP attempt led to.
#[derive(Debug, PartialEq)]
enum Attempt {
    /// Final: the response object, or an error not worth retrying.
    Done(Result<Value, PlatformError>),
    /// Retry (if retries are left); the reason, for logs and the final `Unavailable`.
    Retry(&'static str),
}

/// The OutboundBot HTTP client; implements [`OutboundPlatform`].
#[derive(Debug, Clone)]
pub struct HttpPlatform {
    settings: PlatformSettings,
    url: String,
    client: reqwest::Client,
    next_slot: std::sync::Arc<tokio::sync::Mutex<tokio::time::Instant>>,
}

impl HttpPlatform {
    /// A client for `settings`; fails if the base URL is not a valid http(s) URL or the HTTP
    /// client cannot be built.
    pub fn new(settings: PlatformSettings) -> anyhow::Result<Self> {
        let url = format!("{}/", settings.base_url.trim_end_matches('/'));
        let parsed =
            reqwest::Url::parse(&url).map_err(|e| anyhow::anyhow!("invalid platform URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            anyhow::bail!("invalid platform URL: scheme must be http or https");
        }
        // The connect phase gets a shorter limit than the whole attempt so that a connect timeout
        // is reported as such (request never sent, safe to retry) rather than as an ambiguous one.
        let connect_timeout = (settings.request_timeout / 2).max(Duration::from_millis(1));
        let client = reqwest::Client::builder()
            .timeout(settings.request_timeout)
            .connect_timeout(connect_timeout)
            .build()
            .map_err(|e| anyhow::anyhow!("building the HTTP client: {e}"))?;
        let next_slot = std::sync::Arc::new(tokio::sync::Mutex::new(tokio::time::Instant::now()));
        Ok(Self {
            settings,
            url,
            client,
            next_slot,
        })
    }

    /// The settings this client was built with.
    pub fn settings(&self) -> &PlatformSettings {
        &self.settings
    }

    /// Common parameters plus `params`, signed; the form body of one attempt (fresh nonce and
    /// timestamp each time).
    fn signed_body(&self, action: Action, params: &[(String, String)]) -> String {
        let s = &self.settings;
        let mut all: Vec<(String, String)> = vec![
            ("Action".into(), action.name().into()),
            ("Version".into(), API_VERSION.into()),
            ("Format".into(), "JSON".into()),
            ("AccessKeyId".into(), s.app_key.clone()),
            ("SignatureMethod".into(), "HMAC-SHA1".into()),
            ("SignatureVersion".into(), "1.0".into()),
            ("SignatureNonce".into(), uuid::Uuid::new_v4().to_string()),
            (
                "Timestamp".into(),
                Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            ),
            ("InstanceId".into(), s.instance_id.clone()),
        ];
        all.extend(params.iter().cloned());
        let signature = sign("POST", &all, &s.app_secret);
        all.push(("Signature".into(), signature));
        form_encode(&all)
    }

    /// Calls `action` with retries; returns the response object of a successful call.
    async fn call(
        &self,
        action: Action,
        params: &[(String, String)],
    ) -> Result<Value, PlatformError> {
        let mut attempt: u32 = 0;
        loop {
            match self.attempt(action, params).await {
                Attempt::Done(result) => return result,
                Attempt::Retry(reason) => {
                    if attempt >= self.settings.max_retries {
                        tracing::warn!(
                            action = action.name(),
                            attempts = attempt + 1,
                            reason,
                            "platform call gave up"
                        );
                        return Err(PlatformError::Unavailable(reason.to_owned()));
                    }
                    attempt += 1;
                    tracing::warn!(
                        action = action.name(),
                        attempt,
                        reason,
                        "platform call retrying"
                    );
                    tokio::time::sleep(backoff(&self.settings, attempt - 1)).await;
                }
            }
        }
    }

    /// Wait for this request's slot when pacing is on.
    async fn pace(&self) {
        let Some(qps) = self.settings.max_qps.filter(|q| *q > 0) else {
            return;
        };
        // one slot every 1/qps s, plus a millisecond so timer jitter never bunches two slots
        let interval = Duration::from_micros(1_000_000 / u64::from(qps) + 1000);
        let slot = {
            let mut next = self.next_slot.lock().await;
            let now = tokio::time::Instant::now();
            let slot = (*next).max(now);
            *next = slot + interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }

    /// One HTTP attempt.
    async fn attempt(&self, action: Action, params: &[(String, String)]) -> Attempt {
        self.pace().await;
        let body = self.signed_body(action, params);
        let sent = self
            .client
            .post(&self.url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body)
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => return transport_failure(action, &e),
        };
        let status = response.status().as_u16();
        match response.bytes().await {
            Ok(bytes) => classify(action, status, &bytes),
            Err(e) => transport_failure(action, &e),
        }
    }
}

/// Maps a reqwest error (no usable response) onto an attempt outcome.
fn transport_failure(action: Action, e: &reqwest::Error) -> Attempt {
    if e.is_builder() {
        return Attempt::Done(Err(PlatformError::Unavailable(format!(
            "{}: cannot build request",
            action.name()
        ))));
    }
    if e.is_connect() {
        // DNS, refused, connect timeout: the request never reached the platform.
        return Attempt::Retry("connect failed");
    }
    let reason = if e.is_timeout() {
        "timed out"
    } else {
        "connection lost"
    };
    if action.idempotent() {
        Attempt::Retry(reason)
    } else {
        Attempt::Done(Err(action.unknown(reason)))
    }
}

/// Maps an HTTP response onto an attempt outcome.
fn classify(action: Action, status: u16, body: &[u8]) -> Attempt {
    let parsed: Option<Value> = serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object);
    let code = parsed
        .as_ref()
        .and_then(|v| field(v, "Code"))
        .and_then(as_string);
    if status == 429 || code.as_deref().is_some_and(|c| c.starts_with("Throttling")) {
        return Attempt::Retry("throttled");
    }
    if status >= 500 {
        return if action.idempotent() {
            Attempt::Retry("server error")
        } else {
            Attempt::Done(Err(action.unknown(&format!("HTTP {status}"))))
        };
    }
    let ok_status = (200..300).contains(&status);
    let Some(v) = parsed else {
        return Attempt::Done(Err(if ok_status {
            action.unknown("malformed response")
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
fn is_not_found(action: Action, code: &str) -> bool {
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
fn mask_digits(s: &str) -> String {
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
fn backoff(settings: &PlatformSettings, attempt: u32) -> Duration {
    let factor = 1u32.checked_shl(attempt).unwrap_or(u32::MAX);
    let cap = settings
        .backoff_base
        .saturating_mul(factor)
        .min(settings.backoff_max);
    let cap_nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rand::thread_rng().gen_range(0..=cap_nanos))
}

// ---- lenient JSON access ----

/// `v[key]` unless missing or null.
fn field<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|x| !x.is_null())
}

fn as_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn as_i64(v: &Value) -> Option<i64> {
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

fn as_u64(v: &Value) -> u64 {
    as_i64(v).and_then(|n| u64::try_from(n).ok()).unwrap_or(0)
}

fn as_bool(v: &Value) -> Option<bool> {
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

fn str_at(v: &Value, key: &str) -> Option<String> {
    field(v, key).and_then(as_string)
}

fn u64_at(v: &Value, key: &str) -> u64 {
    field(v, key).map(as_u64).unwrap_or(0)
}

/// Job status string → [`JobStatus`] (unknown → `Scheduling`).
fn job_status(s: &str) -> JobStatus {
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
fn call_status(v: &Value) -> Option<i32> {
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
fn call_time(v: &Value) -> Option<DateTime<Utc>> {
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
fn reference_of(contact: &Value) -> Option<String> {
    match contact {
        Value::Array(items) => items.iter().find_map(reference_of),
        Value::Object(_) => str_at(contact, "ReferenceId").filter(|r| !r.is_empty()),
        _ => None,
    }
}

/// One element of `Jobs.List`.
fn parse_job(job: &Value) -> JobResult {
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

fn strategy_json(strategy: &Strategy) -> String {
    json!({
        "workingTime": strategy
            .working_time
            .iter()
            .map(|w| json!({ "beginTime": w.begin, "endTime": w.end }))
            .collect::<Vec<_>>(),
        "maxAttemptsPerDay": strategy.max_attempts_per_day,
        "minAttemptInterval": strategy.min_attempt_interval_minutes,
    })
    .to_string()
}

fn job_json(contact: &Contact) -> String {
    json!({
        "contacts": [{
            "phoneNumber": contact.phone,
            "name": contact.name,
            "honorific": contact.honorific.clone().unwrap_or_default(),
            "referenceId": contact.reference_id,
        }],
        "extras": contact
            .extras
            .iter()
            .map(|(k, v)| json!({ "key": k, "value": v }))
            .collect::<Vec<_>>(),
    })
    .to_string()
}

fn p(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_owned(), v.into())
}

#[async_trait]
impl OutboundPlatform for HttpPlatform {
    async fn create_job_group(
        &self,
        name: &str,
        script_id: &str,
        strategy: &Strategy,
    ) -> Result<String, PlatformError> {
        let action = Action::CreateJobGroup;
        let params = [
            p("JobGroupName", name),
            p("ScriptId", script_id),
            p("StrategyJson", strategy_json(strategy)),
        ];
        let v = self.call(action, &params).await?;
        field(&v, "JobGroup")
            .and_then(|g| str_at(g, "JobGroupId"))
            .filter(|id| !id.is_empty())
            .ok_or_else(|| action.unknown("response without JobGroupId"))
    }

    async fn assign_jobs(
        &self,
        job_group_id: &str,
        contacts: Vec<Contact>,
    ) -> Result<Vec<AssignedJob>, PlatformError> {
        let action = Action::AssignJobs;
        if contacts.is_empty() || contacts.len() > MAX_ASSIGN_BATCH {
            return Err(PlatformError::Rejected {
                code: "InvalidBatchSize".to_owned(),
                message: format!(
                    "{} contacts; 1..={MAX_ASSIGN_BATCH} allowed",
                    contacts.len()
                ),
            });
        }
        let mut params = vec![p("JobGroupId", job_group_id)];
        params.extend(
            contacts
                .iter()
                .enumerate()
                .map(|(i, c)| (format!("JobsJson.{}", i + 1), job_json(c))),
        );
        let v = self.call(action, &params).await?;
        let ids: Vec<String> = field(&v, "JobsId")
            .and_then(Value::as_array)
            .ok_or_else(|| action.unknown("response without JobsId"))?
            .iter()
            .map(|id| as_string(id).unwrap_or_default())
            .collect();
        if ids.len() != contacts.len() || ids.iter().any(String::is_empty) {
            return Err(action.unknown(&format!(
                "{} job ids for {} contacts",
                ids.len(),
                contacts.len()
            )));
        }
        Ok(contacts
            .into_iter()
            .zip(ids)
            .map(|(c, job_id)| AssignedJob {
                reference_id: c.reference_id,
                job_id,
            })
            .collect())
    }

    async fn suspend_jobs(&self, job_group_id: &str) -> Result<(), PlatformError> {
        self.call(
            Action::SuspendJobs,
            &[p("JobGroupId", job_group_id), p("All", "true")],
        )
        .await
        .map(drop)
    }

    async fn resume_jobs(&self, job_group_id: &str) -> Result<(), PlatformError> {
        self.call(
            Action::ResumeJobs,
            &[p("JobGroupId", job_group_id), p("All", "true")],
        )
        .await
        .map(drop)
    }

    async fn cancel_jobs(&self, job_group_id: &str) -> Result<(), PlatformError> {
        self.call(
            Action::CancelJobs,
            &[p("JobGroupId", job_group_id), p("All", "true")],
        )
        .await
        .map(drop)
    }

    async fn query_job_results(
        &self,
        job_group_id: &str,
        page: u32,
        page_size: u32,
    ) -> Result<JobResultPage, PlatformError> {
        let params = [
            p("JobGroupId", job_group_id),
            p("PageNumber", page.to_string()),
            p("PageSize", page_size.to_string()),
        ];
        let v = self.call(Action::QueryJobsWithResult, &params).await?;
        let jobs = field(&v, "Jobs");
        let items = jobs
            .and_then(|j| field(j, "List"))
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter(|j| j.is_object())
                    .map(parse_job)
                    .collect()
            })
            .unwrap_or_default();
        let num = |key: &str, default: u32| {
            jobs.and_then(|j| field(j, key))
                .and_then(as_i64)
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(default)
        };
        Ok(JobResultPage {
            items,
            page: num("PageNumber", page),
            page_size: num("PageSize", page_size),
            total: jobs.map(|j| u64_at(j, "RowCount")).unwrap_or(0),
        })
    }

    async fn describe_job_group(&self, job_group_id: &str) -> Result<GroupProgress, PlatformError> {
        let v = self
            .call(Action::DescribeJobGroup, &[p("JobGroupId", job_group_id)])
            .await?;
        let Some(progress) = field(&v, "JobGroup").and_then(|g| field(g, "Progress")) else {
            return Ok(GroupProgress::default());
        };
        Ok(GroupProgress {
            total: u64_at(progress, "TotalJobs"),
            completed: u64_at(progress, "TotalCompleted"),
            executing: u64_at(progress, "Executing"),
            scheduling: u64_at(progress, "Scheduling"),
            paused: u64_at(progress, "Paused"),
            failed: u64_at(progress, "Failed"),
            cancelled: u64_at(progress, "Cancelled"),
            not_answered: u64_at(progress, "TotalNotAnswered"),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use actix_web::http::StatusCode;
    use actix_web::{App, HttpResponse, HttpServer, web};
    use std::collections::{HashMap, HashSet};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use tasks::platform::CallWindow;

    const SECRET: &str = "sim-secret";

    #[test]
    fn signature_matches_documented_example() {
        let params: Vec<(String, String)> = [
            ("AccessKeyId", "testid"),
            ("Action", "DescribeRegions"),
            ("Format", "XML"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
            ("SignatureVersion", "1.0"),
            ("Timestamp", "2016-02-23T12:46:24Z"),
            ("Version", "2014-05-26"),
        ]
        .iter()
        .rev() // order must not matter
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            sign("GET", &params, "testsecret"),
            "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
        );
    }

    #[test]
    fn percent_encoding_is_rfc3986() {
        assert_eq!(percent_encode("aZ09-_.~"), "aZ09-_.~");
        assert_eq!(percent_encode("a b*c+d/e=&"), "a%20b%2Ac%2Bd%2Fe%3D%26");
        assert_eq!(percent_encode("意"), "%E6%84%8F");
    }

    #[test]
    fn backoff_is_capped() {
        let s = PlatformSettings {
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_millis(300),
            ..Default::default()
        };
        for attempt in [0, 1, 5, 40] {
            for _ in 0..50 {
                assert!(backoff(&s, attempt) <= Duration::from_millis(300));
            }
        }
        assert!(backoff(&s, 0) <= Duration::from_millis(100));
    }

    #[test]
    fn settings_debug_hides_secret() {
        let s = PlatformSettings {
            app_secret: "very-secret".into(),
            ..Default::default()
        };
        assert!(!format!("{s:?}").contains("very-secret"));
        let platform = HttpPlatform::new(s).unwrap();
        assert!(!format!("{platform:?}").contains("very-secret"));
    }

    #[test]
    fn masks_phone_numbers_in_messages() {
        assert_eq!(
            mask_digits("bad number 13812345678 here"),
            "bad number 138****78 here"
        );
        assert_eq!(mask_digits("page 12"), "page 12");
    }

    #[test]
    fn not_found_mapping() {
        assert!(is_not_found(Action::DescribeJobGroup, "JobGroupNotExists"));
        assert!(is_not_found(Action::AssignJobs, "JobGroup.NotFound"));
        assert!(is_not_found(Action::SuspendJobs, "NotExists"));
        assert!(!is_not_found(Action::CreateJobGroup, "ScriptNotExists"));
        assert!(!is_not_found(Action::AssignJobs, "InstanceNotExists"));
        assert!(!is_not_found(Action::DescribeJobGroup, "InvalidParameter"));
    }

    // ---- fake platform ----

    struct Reply {
        status: u16,
        body: String,
        delay: Duration,
    }

    fn ok(payload: Value) -> Reply {
        let mut body = json!({"RequestId": "req", "Success": true, "Code": "OK", "Message": "", "HttpStatusCode": 200});
        if let (Some(b), Some(extra)) = (body.as_object_mut(), payload.as_object()) {
            b.extend(extra.clone());
        }
        Reply {
            status: 200,
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    fn fail(status: u16, code: &str) -> Reply {
        let body = json!({"RequestId": "req", "Success": false, "Code": code, "Message": "msg", "HttpStatusCode": status});
        Reply {
            status,
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    type Script = Arc<dyn Fn(usize, &HashMap<String, String>) -> Reply + Send + Sync>;

    #[derive(Clone)]
    struct Fake {
        script: Script,
        requests: Arc<AtomicUsize>,
        bad_signatures: Arc<AtomicUsize>,
        seen: Arc<Mutex<Vec<HashMap<String, String>>>>,
    }

    impl Fake {
        fn requests(&self) -> usize {
            self.requests.load(Ordering::SeqCst)
        }
        fn seen(&self) -> Vec<HashMap<String, String>> {
            self.seen.lock().unwrap().clone()
        }
    }

    async fn handle(fake: web::Data<Fake>, form: web::Form<Vec<(String, String)>>) -> HttpResponse {
        let n = fake.requests.fetch_add(1, Ordering::SeqCst);
        let pairs = form.into_inner();
        let mut unsigned = Vec::new();
        let mut signature = None;
        for (k, v) in &pairs {
            if k == "Signature" {
                signature = Some(v.clone());
            } else {
                unsigned.push((k.clone(), v.clone()));
            }
        }
        if signature.as_deref() != Some(sign("POST", &unsigned, SECRET).as_str()) {
            fake.bad_signatures.fetch_add(1, Ordering::SeqCst);
            let body = json!({"Success": false, "Code": "SignatureDoesNotMatch", "Message": "bad signature"});
            return HttpResponse::BadRequest()
                .content_type("application/json")
                .body(body.to_string());
        }
        let map: HashMap<String, String> = pairs.into_iter().collect();
        fake.seen.lock().unwrap().push(map.clone());
        let reply = (fake.script)(n, &map);
        if !reply.delay.is_zero() {
            actix_web::rt::time::sleep(reply.delay).await;
        }
        HttpResponse::build(StatusCode::from_u16(reply.status).unwrap())
            .content_type("application/json")
            .body(reply.body)
    }

    fn start(
        script: impl Fn(usize, &HashMap<String, String>) -> Reply + Send + Sync + 'static,
    ) -> (Fake, String) {
        let fake = Fake {
            script: Arc::new(script),
            requests: Arc::default(),
            bad_signatures: Arc::default(),
            seen: Arc::default(),
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let data = web::Data::new(fake.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::FormConfig::default().limit(1 << 20))
                .route("/", web::post().to(handle))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(0)
        .listen(listener)
        .unwrap()
        .run();
        actix_web::rt::spawn(server);
        (fake, format!("http://{addr}"))
    }

    fn platform(base_url: &str, max_retries: u32, request_timeout: Duration) -> HttpPlatform {
        HttpPlatform::new(PlatformSettings {
            base_url: base_url.to_owned(),
            max_retries,
            request_timeout,
            backoff_base: Duration::from_millis(1),
            backoff_max: Duration::from_millis(1),
            ..Default::default()
        })
        .unwrap()
    }

    fn contact(i: usize) -> Contact {
        Contact {
            phone: format!("1380000{i:04}"),
            name: format!("张三 {i}"),
            honorific: i.is_multiple_of(2).then(|| "先生".to_owned()),
            reference_id: format!("ref-{i}"),
            extras: vec![("city".into(), "杭州 & 上海*".into())],
        }
    }

    fn strategy() -> Strategy {
        Strategy {
            working_time: vec![CallWindow {
                begin: "08:00".into(),
                end: "21:00".into(),
            }],
            max_attempts_per_day: 3,
            min_attempt_interval_minutes: 10,
        }
    }

    fn progress_payload() -> Value {
        json!({"JobGroup": {"JobGroupId": "jg-1", "Status": "Executing", "Progress": {
            "TotalJobs": 10, "TotalCompleted": 4, "Executing": 2, "Scheduling": 3, "Paused": 0,
            "Failed": 1, "Cancelled": 0, "TotalNotAnswered": "2"}}})
    }

    fn expected_progress() -> GroupProgress {
        GroupProgress {
            total: 10,
            completed: 4,
            executing: 2,
            scheduling: 3,
            paused: 0,
            failed: 1,
            cancelled: 0,
            not_answered: 2,
        }
    }

    #[actix_web::test]
    async fn create_job_group_is_signed_and_parsed() {
        let (fake, url) = start(|_, p| {
            assert_eq!(p["Action"], "CreateJobGroup");
            ok(json!({"JobGroup": {"JobGroupId": "jg-42", "Status": "Draft"}}))
        });
        let id = platform(&url, 2, Duration::from_secs(5))
            .create_job_group("任务 A*1~+&=", "script-9", &strategy())
            .await
            .unwrap();
        assert_eq!(id, "jg-42");
        assert_eq!(fake.bad_signatures.load(Ordering::SeqCst), 0);
        let seen = fake.seen();
        assert_eq!(seen.len(), 1);
        let p = &seen[0];
        assert_eq!(p["Version"], "2019-12-26");
        assert_eq!(p["Format"], "JSON");
        assert_eq!(p["AccessKeyId"], "sim-key");
        assert_eq!(p["SignatureMethod"], "HMAC-SHA1");
        assert_eq!(p["SignatureVersion"], "1.0");
        assert_eq!(p["InstanceId"], "sim");
        assert_eq!(p["JobGroupName"], "任务 A*1~+&=");
        assert_eq!(p["ScriptId"], "script-9");
        assert!(uuid::Uuid::parse_str(&p["SignatureNonce"]).is_ok());
        assert!(
            chrono::NaiveDateTime::parse_from_str(&p["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").is_ok()
        );
        let strategy: Value = serde_json::from_str(&p["StrategyJson"]).unwrap();
        assert_eq!(
            strategy,
            json!({"workingTime": [{"beginTime": "08:00", "endTime": "21:00"}], "maxAttemptsPerDay": 3, "minAttemptInterval": 10})
        );
    }

    #[actix_web::test]
    async fn assign_jobs_zips_ids_with_references() {
        let (fake, url) = start(|_, p| {
            assert_eq!(p["Action"], "AssignJobs");
            ok(json!({"JobGroupId": "jg-1", "JobsId": ["job-a", "job-b", "job-c"]}))
        });
        let assigned = platform(&url, 2, Duration::from_secs(5))
            .assign_jobs("jg-1", (0..3).map(contact).collect())
            .await
            .unwrap();
        let pairs: Vec<(&str, &str)> = assigned
            .iter()
            .map(|a| (a.reference_id.as_str(), a.job_id.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [("ref-0", "job-a"), ("ref-1", "job-b"), ("ref-2", "job-c")]
        );
        assert_eq!(fake.bad_signatures.load(Ordering::SeqCst), 0);
        let p = &fake.seen()[0];
        assert_eq!(p["JobGroupId"], "jg-1");
        assert!(!p.contains_key("JobsJson.4"));
        let job: Value = serde_json::from_str(&p["JobsJson.1"]).unwrap();
        assert_eq!(
            job,
            json!({"contacts": [{"phoneNumber": "13800000000", "name": "张三 0", "honorific": "先生", "referenceId": "ref-0"}],
                   "extras": [{"key": "city", "value": "杭州 & 上海*"}]})
        );
        let job2: Value = serde_json::from_str(&p["JobsJson.2"]).unwrap();
        assert_eq!(job2["contacts"][0]["referenceId"], "ref-1");
        assert_eq!(job2["contacts"][0]["honorific"], "");
    }

    #[actix_web::test]
    async fn assign_jobs_batch_limits_are_checked_locally() {
        let (fake, url) = start(|_, _| ok(json!({"JobsId": []})));
        let platform = platform(&url, 2, Duration::from_secs(5));
        let err = platform.assign_jobs("jg-1", vec![]).await.unwrap_err();
        assert!(matches!(err, PlatformError::Rejected { .. }));
        let err = platform
            .assign_jobs("jg-1", (0..100).map(contact).collect())
            .await
            .unwrap_err();
        assert!(matches!(err, PlatformError::Rejected { .. }));
        assert_eq!(fake.requests(), 0);
        // 99 is fine as far as the client is concerned (the fake answers a wrong count)
        let err = platform
            .assign_jobs("jg-1", (0..99).map(contact).collect())
            .await
            .unwrap_err();
        assert!(matches!(err, PlatformError::Ambiguous(_)));
        assert_eq!(fake.requests(), 1);
    }

    #[actix_web::test]
    async fn assign_jobs_id_count_mismatch_is_ambiguous() {
        let (_fake, url) = start(|_, _| ok(json!({"JobsId": ["only-one"]})));
        let err = platform(&url, 2, Duration::from_secs(5))
            .assign_jobs("jg-1", (0..2).map(contact).collect())
            .await
            .unwrap_err();
        assert!(matches!(err, PlatformError::Ambiguous(_)), "{err:?}");
    }

    #[actix_web::test]
    async fn throttling_is_retried_then_succeeds() {
        let (fake, url) = start(|n, _| {
            if n < 2 {
                fail(400, "Throttling.User")
            } else {
                ok(progress_payload())
            }
        });
        let progress = platform(&url, 5, Duration::from_secs(5))
            .describe_job_group("jg-1")
            .await
            .unwrap();
        assert_eq!(progress, expected_progress());
        assert_eq!(fake.requests(), 3);
        let nonces: HashSet<String> = fake
            .seen()
            .iter()
            .map(|p| p["SignatureNonce"].clone())
            .collect();
        assert_eq!(nonces.len(), 3, "a fresh nonce per attempt");
        assert_eq!(fake.bad_signatures.load(Ordering::SeqCst), 0);

        // throttling is safe to retry for non-idempotent actions too (nothing was done)
        let (fake, url) = start(|n, _| {
            if n < 2 {
                fail(429, "Throttling")
            } else {
                ok(json!({"JobGroup": {"JobGroupId": "jg-7"}}))
            }
        });
        let id = platform(&url, 5, Duration::from_secs(5))
            .create_job_group("t", "s", &strategy())
            .await
            .unwrap();
        assert_eq!(id, "jg-7");
        assert_eq!(fake.requests(), 3);
    }

    #[actix_web::test]
    async fn throttling_exhausted_is_unavailable() {
        let (fake, url) = start(|_, _| fail(400, "Throttling"));
        let err = platform(&url, 3, Duration::from_secs(5))
            .assign_jobs("jg-1", vec![contact(1)])
            .await
            .unwrap_err();
        assert_eq!(err, PlatformError::Unavailable("throttled".into()));
        assert_eq!(fake.requests(), 4);
    }

    #[actix_web::test]
    async fn server_errors_are_ambiguous_for_assign_and_retried_for_describe() {
        let (fake, url) = start(|_, _| fail(500, "InternalError"));
        let platform = platform(&url, 3, Duration::from_secs(5));
        let err = platform
            .assign_jobs("jg-1", vec![contact(1)])
            .await
            .unwrap_err();
        assert!(matches!(err, PlatformError::Ambiguous(_)), "{err:?}");
        assert_eq!(fake.requests(), 1);

        let (fake, url) = start(|_, _| Reply {
            status: 503,
            body: "oops".into(),
            delay: Duration::ZERO,
        });
        let platform = super::tests::platform(&url, 3, Duration::from_secs(5));
        let err = platform.describe_job_group("jg-1").await.unwrap_err();
        assert!(matches!(err, PlatformError::Unavailable(_)), "{err:?}");
        assert_eq!(fake.requests(), 4);
        let err = platform
            .create_job_group("t", "s", &strategy())
            .await
            .unwrap_err();
        assert!(matches!(err, PlatformError::Ambiguous(_)), "{err:?}");
        assert_eq!(fake.requests(), 5);
        let err = platform.cancel_jobs("jg-1").await.unwrap_err();
        assert!(matches!(err, PlatformError::Unavailable(_)), "{err:?}");
        assert_eq!(fake.requests(), 9);
    }

    #[actix_web::test]
    async fn timeout_after_sending_is_ambiguous_for_assign() {
        let (fake, url) = start(|n, _| {
            let mut reply =
                ok(json!({"JobsId": ["job-1"], "JobGroup": {"Progress": {"TotalJobs": 1}}}));
            if n == 0 {
                reply.delay = Duration::from_secs(2);
            }
            reply
        });
        let platform = platform(&url, 3, Duration::from_millis(200));
        let err = platform
            .assign_jobs("jg-1", vec![contact(1)])
            .await
            .unwrap_err();
        assert!(matches!(err, PlatformError::Ambiguous(_)), "{err:?}");
        assert_eq!(fake.requests(), 1);

        // an idempotent read is retried after a timeout
        let (fake, url) = start(|n, _| {
            let mut reply = ok(progress_payload());
            if n == 0 {
                reply.delay = Duration::from_secs(2);
            }
            reply
        });
        let platform = super::tests::platform(&url, 3, Duration::from_millis(200));
        assert_eq!(
            platform.describe_job_group("jg-1").await.unwrap(),
            expected_progress()
        );
        assert_eq!(fake.requests(), 2);
    }

    #[actix_web::test]
    async fn connection_refused_is_retried_then_unavailable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let platform = platform(&format!("http://{addr}"), 2, Duration::from_secs(2));
        let err = platform
            .assign_jobs("jg-1", vec![contact(1)])
            .await
            .unwrap_err();
        assert!(matches!(err, PlatformError::Unavailable(_)), "{err:?}");
    }

    #[actix_web::test]
    async fn rejections_and_not_found() {
        let (fake, url) = start(|_, p| match p["Action"].as_str() {
            "DescribeJobGroup" => fail(404, "JobGroupNotExists"),
            "SuspendJobs" => fail(400, "InvalidParameter"),
            _ => fail(400, "ScriptNotExists"),
        });
        let platform = platform(&url, 3, Duration::from_secs(5));
        assert_eq!(
            platform.describe_job_group("jg-x").await.unwrap_err(),
            PlatformError::NotFound
        );
        assert_eq!(
            platform.suspend_jobs("jg-1").await.unwrap_err(),
            PlatformError::Rejected {
                code: "InvalidParameter".into(),
                message: "msg".into()
            }
        );
        assert!(matches!(
            platform.create_job_group("t", "nope", &strategy()).await.unwrap_err(),
            PlatformError::Rejected { code, .. } if code == "ScriptNotExists"
        ));
        assert_eq!(fake.requests(), 3, "rejections are not retried");
        assert_eq!(fake.bad_signatures.load(Ordering::SeqCst), 0);
    }

    #[actix_web::test]
    async fn wrong_secret_is_rejected() {
        let (fake, url) = start(|_, _| ok(json!({})));
        let platform = HttpPlatform::new(PlatformSettings {
            base_url: url,
            app_secret: "wrong".into(),
            backoff_base: Duration::from_millis(1),
            ..Default::default()
        })
        .unwrap();
        let err = platform.resume_jobs("jg-1").await.unwrap_err();
        assert!(
            matches!(err, PlatformError::Rejected { code, .. } if code == "SignatureDoesNotMatch")
        );
        assert_eq!(fake.bad_signatures.load(Ordering::SeqCst), 1);
    }

    #[actix_web::test]
    async fn malformed_success_body() {
        let (_fake, url) = start(|_, _| Reply {
            status: 200,
            body: "{not json".into(),
            delay: Duration::ZERO,
        });
        let platform = platform(&url, 2, Duration::from_secs(5));
        let err = platform
            .assign_jobs("jg-1", vec![contact(1)])
            .await
            .unwrap_err();
        assert!(matches!(err, PlatformError::Ambiguous(_)), "{err:?}");
        let err = platform.describe_job_group("jg-1").await.unwrap_err();
        assert!(matches!(err, PlatformError::Unavailable(_)), "{err:?}");
    }

    #[actix_web::test]
    async fn query_job_results_parsing() {
        let (fake, url) = start(|_, p| {
            assert_eq!(p["Action"], "QueryJobsWithResult");
            assert_eq!(p["PageNumber"], "2");
            assert_eq!(p["PageSize"], "50");
            ok(
                json!({"Jobs": {"PageNumber": 2, "PageSize": 50, "RowCount": "57", "List": [
                    {"Id": "job-1", "Status": "Succeeded", "JobFailureReason": null, "LatestTask": {
                        "CallTime": 1_700_000_000_000_i64, "CallDuration": 35_000, "HasAnswered": true, "Status": "1",
                        "TaskEndReason": "HangUpByClient",
                        "TagHits": [{"TagName": "A", "TagGroup": "意向等级"}],
                        "Contact": {"ReferenceId": "ref-1", "PhoneNumber": "13800000001"}}},
                    {"Id": "job-2", "Status": "Failed", "LatestTask": {
                        "CallTime": "1700000100000", "CallDuration": null, "HasAnswered": false, "Status": 2,
                        "TagHits": [], "Contact": {"ReferenceId": "ref-2"}}},
                    {"Id": "job-3", "Status": "Scheduling", "LatestTask": null,
                        "Contacts": [{"ReferenceId": "ref-3", "PhoneNumber": "13800000003"}]},
                    {"Id": "job-4", "Status": "Whatever", "LatestTask": {"CallTime": null, "Status": "Executing"},
                        "Contact": {"ReferenceId": "ref-4"}},
                    {"Id": "job-5"}
                ]}}),
            )
        });
        let page = platform(&url, 2, Duration::from_secs(5))
            .query_job_results("jg-1", 2, 50)
            .await
            .unwrap();
        assert_eq!(fake.requests(), 1);
        assert_eq!((page.page, page.page_size, page.total), (2, 50, 57));
        assert_eq!(page.items.len(), 5);

        let a = &page.items[0];
        assert_eq!(a.job_id, "job-1");
        assert_eq!(a.reference_id, "ref-1");
        assert_eq!(a.job_status, JobStatus::Succeeded);
        assert_eq!(a.call_status, Some(1));
        assert!(a.has_answered);
        assert_eq!(
            a.call_time,
            DateTime::from_timestamp_millis(1_700_000_000_000)
        );
        assert_eq!(a.call_duration_ms, Some(35_000));
        assert_eq!(a.end_reason.as_deref(), Some("HangUpByClient"));
        assert_eq!(
            a.tags,
            vec![TagHit {
                group: "意向等级".into(),
                name: "A".into()
            }]
        );
        assert_eq!(a.attempts, 1);

        let b = &page.items[1];
        assert_eq!(
            (b.reference_id.as_str(), b.job_status, b.call_status),
            ("ref-2", JobStatus::Failed, Some(2))
        );
        assert_eq!(
            b.call_time,
            DateTime::from_timestamp_millis(1_700_000_100_000)
        );
        assert_eq!(
            (b.call_duration_ms, b.has_answered, b.attempts),
            (None, false, 1)
        );
        assert!(b.tags.is_empty());

        let c = &page.items[2];
        assert_eq!(
            (c.reference_id.as_str(), c.job_status, c.call_status),
            ("ref-3", JobStatus::Scheduling, None)
        );
        assert_eq!((c.call_time, c.attempts), (None, 0));

        let d = &page.items[3];
        assert_eq!(
            (d.reference_id.as_str(), d.job_status, d.call_status),
            ("ref-4", JobStatus::Scheduling, Some(0))
        );
        assert_eq!(d.attempts, 0);

        let e = &page.items[4];
        assert_eq!(
            (e.job_id.as_str(), e.reference_id.as_str(), e.attempts),
            ("job-5", "", 0)
        );
    }

    #[actix_web::test]
    async fn group_wide_commands_send_all() {
        let (fake, url) = start(|_, _| ok(json!({})));
        let platform = platform(&url, 2, Duration::from_secs(5));
        platform.suspend_jobs("jg-1").await.unwrap();
        platform.resume_jobs("jg-1").await.unwrap();
        platform.cancel_jobs("jg-1").await.unwrap();
        let actions: Vec<(String, String, String)> = fake
            .seen()
            .iter()
            .map(|p| {
                (
                    p["Action"].clone(),
                    p["JobGroupId"].clone(),
                    p["All"].clone(),
                )
            })
            .collect();
        assert_eq!(
            actions,
            [
                ("SuspendJobs".into(), "jg-1".into(), "true".into()),
                ("ResumeJobs".into(), "jg-1".into(), "true".into()),
                ("CancelJobs".into(), "jg-1".into(), "true".into()),
            ]
        );
    }
}
