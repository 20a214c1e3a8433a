//! The outbound-call platform port: what the domain needs from a vendor such as Alibaba Cloud's
//! OutboundBot. The HTTP adapter lives in `adapters::platform`; a simulator in `platform-sim`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Most contacts one `assign_jobs` call may carry (the vendor's hard limit).
pub const MAX_ASSIGN_BATCH: usize = 99;

/// A calling window, local time `HH:MM` in the strategy's time zone (`"24:00"` allowed as end).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallWindow {
    /// Start, `HH:MM`.
    pub begin: String,
    /// End, `HH:MM` (exclusive).
    pub end: String,
}

/// How the platform may call: windows, attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Strategy {
    /// When calls may be placed (in the platform's / service's time zone).
    pub working_time: Vec<CallWindow>,
    /// Most attempts per lead and day.
    pub max_attempts_per_day: u32,
    /// Minutes between attempts of one lead.
    pub min_attempt_interval_minutes: u32,
}

/// One contact to call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// Full phone number.
    pub phone: String,
    /// Customer name.
    pub name: String,
    /// Honorific (先生 / 女士), optional.
    pub honorific: Option<String>,
    /// Our id of the lead in the task (`leads_task_list.id`), unique.
    pub reference_id: String,
    /// Extra key/values passed to the script.
    pub extras: Vec<(String, String)>,
}

/// A job the platform created for a contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignedJob {
    /// The contact's reference id.
    pub reference_id: String,
    /// The platform's job id.
    pub job_id: String,
}

/// Job status on the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobStatus {
    /// Waiting for its turn / window.
    Scheduling,
    /// Being called.
    Executing,
    /// Finished (whatever the call's outcome).
    Succeeded,
    /// Suspended.
    Paused,
    /// Failed terminally.
    Failed,
    /// Cancelled.
    Cancelled,
}

impl JobStatus {
    /// Whether the job will not change any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled
        )
    }
}

/// One tag hit of a call (e.g. group `意向等级`, name `A`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagHit {
    /// Tag group.
    pub group: String,
    /// Tag name.
    pub name: String,
}

/// The latest state of one job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobResult {
    /// Platform job id.
    pub job_id: String,
    /// Our reference id.
    pub reference_id: String,
    /// Job status.
    pub job_status: JobStatus,
    /// Status code of the latest call (see docs/platform.md), `None` before any call.
    pub call_status: Option<i32>,
    /// Whether the latest call was answered.
    pub has_answered: bool,
    /// When the latest call was placed.
    pub call_time: Option<DateTime<Utc>>,
    /// Duration of the latest call, milliseconds.
    pub call_duration_ms: Option<i64>,
    /// Why the latest call ended.
    pub end_reason: Option<String>,
    /// Tags the agent hit (intent etc.).
    pub tags: Vec<TagHit>,
    /// Summary text, if the platform gives one.
    pub summary: Option<String>,
    /// Number of calls placed so far (attempts).
    pub attempts: i32,
}

/// A page of job results.
#[derive(Debug, Clone, PartialEq)]
pub struct JobResultPage {
    /// Results of this page.
    pub items: Vec<JobResult>,
    /// 1-based page number.
    pub page: u32,
    /// Page size.
    pub page_size: u32,
    /// Total jobs in the group.
    pub total: u64,
}

impl JobResultPage {
    /// Whether page `page` (1-based) of a listing was its last.
    pub fn is_last(&self, page: u32) -> bool {
        self.items.is_empty() || u64::from(page) * u64::from(self.page_size.max(1)) >= self.total
    }
}

/// Progress counts of a job group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupProgress {
    /// Jobs in the group.
    pub total: u64,
    /// Jobs finished.
    pub completed: u64,
    /// Jobs being called.
    pub executing: u64,
    /// Jobs waiting.
    pub scheduling: u64,
    /// Jobs suspended.
    pub paused: u64,
    /// Jobs failed.
    pub failed: u64,
    /// Jobs cancelled.
    pub cancelled: u64,
    /// Jobs not answered.
    pub not_answered: u64,
}

/// Why a platform call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlatformError {
    /// The request did not take effect: the platform could not be reached, or it refused to
    /// work on it (throttling) until the retries were spent (503). **Nothing was sent that the
    /// platform acted on**, so the caller may treat the work as not done: the dispatcher returns
    /// an `assign_jobs` batch to `pending` on this error. An implementation that cannot be sure
    /// (a timeout or 5xx after sending a non-idempotent request) must answer
    /// [`PlatformError::Ambiguous`] instead.
    #[error("platform unavailable: {0}")]
    Unavailable(String),
    /// The platform answered, but would not do the work now: it throttled the request, or
    /// failed it with a server error where resending is safe, until the retries were spent
    /// (503). Like [`PlatformError::Unavailable`], **nothing took effect**; unlike it, the
    /// platform is there, so trying again in a moment is right.
    #[error("platform busy: {0}")]
    Busy(String),
    /// The platform refused the request (bad credentials, unknown script, invalid parameter; 502).
    #[error("platform rejected the request: {code}")]
    Rejected {
        /// Vendor code (for logs, never shown to users).
        code: String,
        /// Vendor message (for logs, never shown to users).
        message: String,
    },
    /// The request may or may not have taken effect (timeout / connection lost after sending).
    /// For `assign_jobs` the caller must reconcile before resending.
    #[error("platform outcome unknown: {0}")]
    Ambiguous(String),
    /// The platform answered, but the answer does not say whether the work was done (a server
    /// error, a success without the ids it should carry). Like [`PlatformError::Ambiguous`] the
    /// caller must reconcile before resending; unlike it, the request is over (nothing can
    /// still take effect later), so the caller may reconcile at once.
    #[error("platform outcome unclear: {0}")]
    Unclear(String),
    /// The job group does not exist on the platform.
    #[error("job group not found")]
    NotFound,
}

impl PlatformError {
    /// Whether the platform answered (it is there, only busy, unsure or refusing), as opposed to
    /// not being reachable at all: work that met such an error is tried again within seconds.
    pub fn platform_answered(&self) -> bool {
        !matches!(self, PlatformError::Unavailable(_))
    }
}

/// What a job assignment passes the moment before it leaves, after its wait for a slot of the
/// account's budget: the sender may still hold it back then (its lease ends, its batch was
/// given back meanwhile). A refusal must be an error that says nothing took effect
/// ([`PlatformError::Busy`] or [`PlatformError::Unavailable`]).
#[async_trait]
pub trait SendGate: Send + Sync {
    /// Whether the request may leave now.
    async fn pass(&self) -> Result<(), PlatformError>;
}

/// A gate that closes at a moment of the process's monotonic clock.
#[derive(Debug, Clone, Copy)]
pub struct SendBy(pub tokio::time::Instant);

#[async_trait]
impl SendGate for SendBy {
    async fn pass(&self) -> Result<(), PlatformError> {
        if tokio::time::Instant::now() >= self.0 {
            return Err(PlatformError::Busy(
                "not sent: the sender's lease ends before it could leave".to_owned(),
            ));
        }
        Ok(())
    }
}

/// The outbound-call platform.
///
/// The contract of the errors: [`PlatformError::Unavailable`] and [`PlatformError::Busy`] mean
/// the request had no effect; [`PlatformError::Ambiguous`] and [`PlatformError::Unclear`] mean it may have had one. `create_job_group` and `assign_jobs`
/// are not idempotent: an implementation never resends them on its own after they may have
/// reached the platform, and answers `Ambiguous` then; the other operations may be retried.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait OutboundPlatform: Send + Sync + 'static {
    /// Create a job group for a task; returns its id.
    async fn create_job_group(
        &self,
        name: &str,
        script_id: &str,
        strategy: &Strategy,
    ) -> Result<String, PlatformError>;
    /// Create one job per contact (1..=99 contacts), in order. Every attempt passes `gate`
    /// after its wait for a slot of the account's budget, the moment before it leaves; when the
    /// gate refuses, nothing is sent and its error is the answer.
    async fn assign_jobs(
        &self,
        job_group_id: &str,
        contacts: Vec<Contact>,
        gate: std::sync::Arc<dyn SendGate>,
    ) -> Result<Vec<AssignedJob>, PlatformError>;
    /// Suspend every job of the group.
    async fn suspend_jobs(&self, job_group_id: &str) -> Result<(), PlatformError>;
    /// Resume every job of the group.
    async fn resume_jobs(&self, job_group_id: &str) -> Result<(), PlatformError>;
    /// Cancel every job of the group.
    async fn cancel_jobs(&self, job_group_id: &str) -> Result<(), PlatformError>;
    /// One page (1-based; size <= 100) of the group's jobs with their latest results.
    async fn query_job_results(
        &self,
        job_group_id: &str,
        page: u32,
        page_size: u32,
    ) -> Result<JobResultPage, PlatformError>;
    /// Progress counts of the group.
    async fn describe_job_group(&self, job_group_id: &str) -> Result<GroupProgress, PlatformError>;
}
