//! Running call tasks, split along their seams. Each part is a service with its own small port:
//!
//! | part | service | port | does |
//! |---|---|---|---|
//! | [`lifecycle`] | [`Lifecycle`] | [`LifecycleRepository`] | start, suspend, resume, stop; state changes the workers make |
//! | [`leases`] | — | [`LeaseRepository`] | one worker of one kind per task at a time |
//! | [`dispatch`] | [`Dispatcher`] | [`DispatchRepository`] | sends every lead to the platform exactly once |
//! | [`results`] | [`Results`] | [`ResultRepository`] | pulls results from the platform; statistics and rows |
//! | [`monitor`] | [`Monitor`] | — | the monitor's tick: sync what changed, complete finished tasks |
//! | [`runs`] | [`Runs`] | [`RunRepository`] | query execution runs: a background pull with progress |
//! | [`background`] | — | [`Background`] | the process's background loops, as requests see them |
//!
//! Exactly-once dispatch works like this. A dispatcher leases a running task
//! (`locked_by`/`locked_until`), so one instance works a task at a time. It claims up to 99
//! pending task leads into a recorded *batch* (leads become `assigning`) **before** calling
//! `assign_jobs`, and records the job ids **after**. If the call fails definitely, the leads go
//! back to `pending`. If its outcome is unknown (timeout, 5xx, crash), the batch stays open; the
//! next dispatcher of that task first *reconciles*: it reads the group's jobs from the platform
//! and records those whose reference id belongs to the batch, returning only the really missing
//! leads to `pending`. So a lead is sent again only when the platform provably has no job for it.

pub mod background;
pub mod dispatch;
pub mod export;
pub mod leases;
pub mod lifecycle;
pub mod monitor;
pub mod results;
pub mod runs;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use chrono::Duration;
use kernel::{Clock, Entity, RepoError, TaskId};

use crate::platform::{CallWindow, MAX_ASSIGN_BATCH, OutboundPlatform, PlatformError, Strategy};
use crate::{TaskRepository, TaskState, TransitionError};

pub use background::{Background, MonitorStatus};
pub use dispatch::{Batch, DispatchLead, DispatchReport, DispatchRepository, Dispatcher};
pub use leases::{HeldLease, LeaseKind, LeaseRepository, LeasedTask};
pub use lifecycle::{Lifecycle, LifecycleRepository, Started};
pub use monitor::{Monitor, TickReport};
pub use results::{
    ExecutionRow, Executions, LeadCount, ResultRepository, Results, StoredView, TaskStatistics,
    TaskView,
};
pub use runs::{Run, RunRepository, RunStatus, Runs};

#[cfg(any(test, feature = "mock"))]
pub use background::MockBackground;
#[cfg(any(test, feature = "mock"))]
pub use dispatch::MockDispatchRepository;
#[cfg(any(test, feature = "mock"))]
pub use leases::MockLeaseRepository;
#[cfg(any(test, feature = "mock"))]
pub use lifecycle::MockLifecycleRepository;
#[cfg(any(test, feature = "mock"))]
pub use results::MockResultRepository;
#[cfg(any(test, feature = "mock"))]
pub use runs::MockRunRepository;

/// Why an execution operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// No such task (or run) in scope.
    #[error("{0:?} not found")]
    NotFound(Entity),
    /// Start refused: not in state `created`.
    #[error("task not startable in state {0:?}")]
    NotStartable(TaskState),
    /// Transition refused.
    #[error("invalid state {0:?}")]
    InvalidState(TaskState),
    /// Start refused: no script.
    #[error("script not set")]
    ScriptNotSet,
    /// A call status that does not exist was asked for.
    #[error("unknown call status `{0}`")]
    UnknownCallStatus(String),
    /// The platform failed; local state was restored.
    #[error(transparent)]
    Platform(#[from] PlatformError),
    /// Storage failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
    /// A background worker's lease ran out (the process stalled past it) or went to another
    /// worker: it wrote nothing more for the task and left the rest to the next holder.
    #[error("lease on task {0} is over; left to the next holder")]
    LeaseLost(TaskId),
}

impl From<TransitionError> for ExecError {
    fn from(e: TransitionError) -> Self {
        match e {
            TransitionError::NotFound => ExecError::NotFound(Entity::Task),
            TransitionError::InvalidState(s) => ExecError::InvalidState(s),
            TransitionError::Repo(r) => ExecError::Repo(r),
        }
    }
}

/// Settings of execution.
#[derive(Debug, Clone)]
pub struct ExecutionSettings {
    /// Calling windows and attempts for new job groups.
    pub strategy: Strategy,
    /// This instance's worker id (for leases).
    pub worker_id: String,
    /// Lease length, seconds.
    pub lease_secs: i64,
    /// An open batch younger than this may still be in flight: reconcile only older ones.
    pub reconcile_after: Duration,
    /// Contacts per `assign_jobs` (<= 99).
    pub batch_size: usize,
    /// Batches one dispatcher turn sends before giving the task back.
    pub batches_per_turn: usize,
    /// Page size for reading results (<= 100). The default is a batch's size: a batch's jobs
    /// are listed after every recorded one, so while the recorded jobs are whole batches a
    /// batch's jobs are one page, and reconciling it takes one request, not two.
    pub page_size: u32,
}

impl Default for ExecutionSettings {
    fn default() -> Self {
        Self {
            strategy: Strategy {
                working_time: vec![CallWindow {
                    begin: "08:00".into(),
                    end: "21:00".into(),
                }],
                max_attempts_per_day: 3,
                min_attempt_interval_minutes: 10,
            },
            worker_id: "worker".into(),
            lease_secs: 60,
            reconcile_after: Duration::seconds(20),
            batch_size: MAX_ASSIGN_BATCH,
            batches_per_turn: 200,
            page_size: MAX_ASSIGN_BATCH as u32,
        }
    }
}

/// The platform as each part of execution reaches it: one account, a handle per part, so that
/// each may have its own priority in the account's request budget.
#[derive(Clone)]
pub struct Platforms {
    /// Start, suspend, resume, stop.
    pub lifecycle: Arc<dyn OutboundPlatform>,
    /// Assigning jobs, reconciling, cancelling after a stop.
    pub dispatch: Arc<dyn OutboundPlatform>,
    /// The monitor's progress checks and result pages.
    pub sync: Arc<dyn OutboundPlatform>,
    /// Query execution runs.
    pub runs: Arc<dyn OutboundPlatform>,
}

impl Platforms {
    /// One handle for every part.
    pub fn same(platform: Arc<dyn OutboundPlatform>) -> Self {
        Self {
            lifecycle: platform.clone(),
            dispatch: platform.clone(),
            sync: platform.clone(),
            runs: platform,
        }
    }
}

/// Everything execution needs from the outside, for [`Execution::new`].
#[derive(Clone)]
pub struct ExecutionPorts {
    /// Task states, job groups.
    pub lifecycle: Arc<dyn LifecycleRepository>,
    /// Worker leases on tasks.
    pub leases: Arc<dyn LeaseRepository>,
    /// Dispatch batches.
    pub batches: Arc<dyn DispatchRepository>,
    /// Results of task leads, statistics.
    pub results: Arc<dyn ResultRepository>,
    /// Query execution runs.
    pub runs: Arc<dyn RunRepository>,
    /// Tasks (reads).
    pub tasks: Arc<dyn TaskRepository>,
    /// The outbound-call platform, per part.
    pub platforms: Platforms,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// The process's background loops.
    pub background: Arc<dyn Background>,
}

/// The execution services of one pool of connections, wired to each other.
#[derive(Clone)]
pub struct Execution {
    /// Start, suspend, resume, stop.
    pub lifecycle: Lifecycle,
    /// Sends leads to the platform.
    pub dispatcher: Dispatcher,
    /// Pulls and reads results.
    pub results: Results,
    /// The monitor's tick.
    pub monitor: Monitor,
    /// Query execution runs.
    pub runs: Runs,
}

impl Execution {
    /// Wire every part of execution to `ports`.
    pub fn new(p: ExecutionPorts, settings: ExecutionSettings) -> Self {
        let results = Results::new(
            p.results.clone(),
            p.tasks.clone(),
            p.platforms.sync.clone(),
            settings.page_size,
        );
        Self {
            lifecycle: Lifecycle::new(
                p.lifecycle.clone(),
                p.results.clone(),
                p.tasks.clone(),
                p.platforms.lifecycle,
                p.background.clone(),
                settings.strategy.clone(),
            ),
            dispatcher: Dispatcher::new(
                p.batches,
                p.leases.clone(),
                p.lifecycle.clone(),
                p.platforms.dispatch,
                p.clock.clone(),
                settings.clone(),
            ),
            monitor: Monitor::new(
                p.leases,
                p.lifecycle.clone(),
                results.clone(),
                p.platforms.sync,
                p.clock,
                settings.clone(),
            ),
            runs: Runs::new(
                p.runs,
                p.lifecycle,
                p.results,
                p.platforms.runs,
                p.background,
                settings,
            ),
            results,
        }
    }
}
