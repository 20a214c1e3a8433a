//! HTTP adapter of the outbound-call platform port ([`tasks::OutboundPlatform`]), speaking the
//! Alibaba Cloud OutboundBot RPC style (API version 2019-12-26, signature v1) described in
//! docs/platform.md.
//!
//! Every call is a `POST {base_url}/` with a form-encoded, signed parameter set. Failures are
//! mapped onto [`PlatformError`]:
//!
//! - every attempt waits for a slot of the account's request budget ([`budget`]), in its
//!   caller's priority;
//! - throttling (`Code: "Throttling*"`, or HTTP 429) slows the budget down and is retried in
//!   the next slot, and becomes [`PlatformError::Busy`] once the retries are spent;
//! - a request that never reached the platform (connection refused, DNS, connect timeout) is
//!   retried with exponential backoff and full jitter, and becomes
//!   [`PlatformError::Unavailable`] once the retries are spent;
//! - HTTP 5xx and timeouts *after sending* are retried for idempotent actions only (a 5xx
//!   becomes [`PlatformError::Busy`] once the retries are spent); for
//!   `CreateJobGroup` / `AssignJobs` they end the call at once, because the work may have been
//!   done and the caller has to reconcile before resending: [`PlatformError::Unclear`] when the
//!   platform itself answered (HTTP 500, a success without ids; the request is over),
//!   [`PlatformError::Ambiguous`] when it may still be at work (a timeout, a lost connection, a
//!   gateway's 502, 503 or 504);
//! - `Success: false` becomes [`PlatformError::Rejected`], or [`PlatformError::NotFound`] when the
//!   job group does not exist.
//!
//! The secret is never logged, and neither errors nor logs carry request parameters (so no phone
//! numbers); vendor messages are passed on with long digit runs masked.

pub mod budget;
mod outcome;
mod parse;
mod wire;

use outcome::*;
use parse::*;
use wire::*;
pub use wire::{percent_encode, sign};

use budget::{Budget, Class, LocalSlots, RateMode};

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rand::Rng as _;
use serde_json::{Value, json};
use sha1::Sha1;
use tasks::execution::Platforms;
use tasks::platform::{
    AssignedJob, Contact, GroupProgress, JobResult, JobResultPage, JobStatus, MAX_ASSIGN_BATCH,
    SendGate, Strategy, TagHit,
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
    /// The account's requests per second (`PLATFORM_MAX_QPS`); `None`: the budget finds the
    /// limit itself (see [`budget`]).
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

    /// The error for an outcome we cannot know while the request may still be in flight (no
    /// answer, or a gateway's): ambiguous if the action may have had an effect.
    fn unknown(self, what: &str) -> PlatformError {
        if self.idempotent() {
            PlatformError::Unavailable(format!("{}: {what}", self.name()))
        } else {
            PlatformError::Ambiguous(format!("{}: {what}", self.name()))
        }
    }

    /// The error for an answer of the platform itself that does not say what was done: unclear
    /// if the action may have had an effect (it can have no further effect now).
    fn unclear(self, what: &str) -> PlatformError {
        if self.idempotent() {
            PlatformError::Unavailable(format!("{}: {what}", self.name()))
        } else {
            PlatformError::Unclear(format!("{}: {what}", self.name()))
        }
    }
}

/// What one HTTP attempt led to.
#[derive(Debug, PartialEq)]
enum Attempt {
    /// Final: the response object, or an error not worth retrying.
    Done(Result<Value, PlatformError>),
    /// Retry (if retries are left), for this reason.
    Retry(Why),
}

/// Each request the account's budget let out, at debug level: what an operator reads to see
/// where the account's rate goes.
fn traced(action: Action, class: Class, a: Attempt) -> Attempt {
    if tracing::enabled!(tracing::Level::DEBUG) {
        let outcome = match &a {
            Attempt::Done(Ok(_)) => "ok",
            Attempt::Done(Err(_)) => "failed",
            Attempt::Retry(why) => why.as_str(),
        };
        tracing::debug!(action = action.name(), class = ?class, outcome, "platform request");
    }
    a
}

/// Why an attempt is worth another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    /// The platform refused it for its rate.
    Throttled,
    /// A server error on an action that may be sent twice.
    ServerError,
    /// The request never reached the platform (refused, DNS, connect timeout).
    ConnectFailed,
    /// No answer in time, on an action that may be sent twice.
    TimedOut,
    /// The connection broke, on an action that may be sent twice.
    ConnectionLost,
}

impl Why {
    fn as_str(self) -> &'static str {
        match self {
            Why::Throttled => "throttled",
            Why::ServerError => "server error",
            Why::ConnectFailed => "connect failed",
            Why::TimedOut => "timed out",
            Why::ConnectionLost => "connection lost",
        }
    }

    /// The error once the retries are spent: busy if the platform answered, else unavailable.
    fn give_up(self) -> PlatformError {
        match self {
            Why::Throttled | Why::ServerError => PlatformError::Busy(self.as_str().to_owned()),
            _ => PlatformError::Unavailable(self.as_str().to_owned()),
        }
    }
}

impl PlatformSettings {
    /// How the account's rate is set.
    pub fn rate_mode(&self) -> RateMode {
        match self.max_qps.filter(|q| *q > 0) {
            Some(q) => RateMode::Fixed(f64::from(q)),
            None => RateMode::Discovered,
        }
    }

    /// The platform account these settings use (its budget is shared by every client of it).
    pub fn account(&self) -> String {
        format!("{}@{}", self.app_key, self.instance_id)
    }
}

/// The OutboundBot HTTP client; implements [`OutboundPlatform`]. Clones share the account's
/// [`Budget`]; [`HttpPlatform::for_class`] gives each caller its priority.
#[derive(Debug, Clone)]
pub struct HttpPlatform {
    settings: PlatformSettings,
    url: String,
    client: reqwest::Client,
    budget: Arc<Budget>,
    class: Class,
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
        let budget = Budget::new(Arc::new(LocalSlots::new(settings.rate_mode())));
        Ok(Self {
            settings,
            url,
            client,
            budget,
            class: Class::Control,
        })
    }

    /// The same client taking its slots from `budget` (the account's, shared by instances).
    pub fn with_budget(self, budget: Arc<Budget>) -> Self {
        Self { budget, ..self }
    }

    /// The same client (same budget) asking for slots as `class`.
    pub fn for_class(&self, class: Class) -> Self {
        Self {
            class,
            ..self.clone()
        }
    }

    /// A handle for each part of execution, each with its priority in the account's budget.
    pub fn platforms(&self) -> Platforms {
        let handle = |class| -> Arc<dyn OutboundPlatform> { Arc::new(self.for_class(class)) };
        Platforms {
            lifecycle: handle(Class::Control),
            dispatch: handle(Class::Dispatch),
            sync: handle(Class::Sync),
            runs: handle(Class::Runs),
        }
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
        self.call_by(action, params, None).await
    }

    /// [`Self::call`], where every attempt passes `gate` before it leaves.
    async fn call_by(
        &self,
        action: Action,
        params: &[(String, String)],
        gate: Option<&dyn SendGate>,
    ) -> Result<Value, PlatformError> {
        let mut attempt: u32 = 0;
        loop {
            let (attempt_made, left) = self.attempt(action, params, gate).await;
            match attempt_made {
                Attempt::Done(result) => return result,
                Attempt::Retry(why) => {
                    let reason = why.as_str();
                    if why == Why::Throttled {
                        // the budget slows down; the retry waits for a slot of the new rate
                        self.budget.throttled(left.elapsed()).await;
                    }
                    if attempt >= self.settings.max_retries {
                        tracing::warn!(
                            action = action.name(),
                            attempts = attempt + 1,
                            reason,
                            "platform call gave up"
                        );
                        return Err(why.give_up());
                    }
                    attempt += 1;
                    tracing::warn!(
                        action = action.name(),
                        attempt,
                        reason,
                        "platform call retrying"
                    );
                    if why != Why::Throttled {
                        tokio::time::sleep(backoff(&self.settings, attempt - 1)).await;
                    }
                }
            }
        }
    }

    /// One HTTP attempt, and when its request left.
    async fn attempt(
        &self,
        action: Action,
        params: &[(String, String)],
        gate: Option<&dyn SendGate>,
    ) -> (Attempt, std::time::Instant) {
        self.budget.acquire(self.class).await;
        // passed after the wait for a slot, the last thing before the request leaves
        if let Some(gate) = gate
            && let Err(e) = gate.pass().await
        {
            return (Attempt::Done(Err(e)), std::time::Instant::now());
        }
        let left = std::time::Instant::now();
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
            Err(e) => {
                return (
                    traced(action, self.class, transport_failure(action, &e)),
                    left,
                );
            }
        };
        let status = response.status().as_u16();
        let outcome = match response.bytes().await {
            Ok(bytes) => classify(action, status, &bytes),
            Err(e) => transport_failure(action, &e),
        };
        (traced(action, self.class, outcome), left)
    }
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
            .ok_or_else(|| action.unclear("response without JobGroupId"))
    }

    async fn assign_jobs(
        &self,
        job_group_id: &str,
        contacts: Vec<Contact>,
        gate: Arc<dyn SendGate>,
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
        let v = self.call_by(action, &params, Some(gate.as_ref())).await?;
        let ids: Vec<String> = field(&v, "JobsId")
            .and_then(Value::as_array)
            .ok_or_else(|| action.unclear("response without JobsId"))?
            .iter()
            .map(|id| as_string(id).unwrap_or_default())
            .collect();
        if ids.len() != contacts.len() || ids.iter().any(String::is_empty) {
            return Err(action.unclear(&format!(
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
mod tests;
