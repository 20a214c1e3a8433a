//! Leases: a background worker of one kind (dispatcher or monitor) works a task alone, on any
//! number of instances, by holding its lease (`*_locked_by` / `*_locked_until` on the task).

use async_trait::async_trait;
use kernel::{RepoError, TaskId};

use crate::TaskState;

/// Which background job holds a task's lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseKind {
    /// The dispatcher (assigns jobs).
    Dispatch,
    /// The monitor (syncs results, completes tasks).
    Monitor,
}

/// A task leased by a background worker.
#[derive(Debug, Clone, PartialEq)]
pub struct LeasedTask {
    /// Task id.
    pub id: TaskId,
    /// State when leased.
    pub state: TaskState,
    /// Job group, once created.
    pub job_group_id: Option<String>,
    /// Leads in the task.
    pub leads_count: i64,
    /// Leads of the task with a recorded job, when it was leased.
    pub jobs_recorded: u64,
}

/// Storage of the leases.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait LeaseRepository: Send + Sync + 'static {
    /// Lease one task in `states` whose lease (of this kind) is free or expired, least recently
    /// leased first; for [`LeaseKind::Dispatch`] only tasks with a job group and pending leads
    /// or an open batch.
    async fn lease_task(
        &self,
        kind: LeaseKind,
        worker: &str,
        states: Vec<TaskState>,
        lease_secs: i64,
    ) -> Result<Option<LeasedTask>, RepoError>;
    /// Extend a lease; `None` when it was lost, else the task's current state.
    async fn renew_lease(
        &self,
        kind: LeaseKind,
        id: TaskId,
        worker: &str,
        lease_secs: i64,
    ) -> Result<Option<TaskState>, RepoError>;
    /// Give a lease back.
    async fn release_lease(
        &self,
        kind: LeaseKind,
        id: TaskId,
        worker: &str,
    ) -> Result<(), RepoError>;
    /// Give back every lease of either kind held under `worker`, and the leases of its query
    /// execution runs; returns how many. Called when an instance starts: what its name still
    /// holds was held by an earlier process of the same name, which is gone.
    async fn release_all(&self, worker: &str) -> Result<u64, RepoError>;
}

/// A lease this worker holds, as its own monotonic clock sees it. The lease counts from the
/// moment before it was taken or last renewed, so the process never believes in it longer than
/// the database does; and a process that was frozen (SIGSTOP, a VM paused, a long GC-like stall)
/// finds it over when it wakes, since the monotonic clock runs on meanwhile. That is the fence:
/// work done under a lease checks it before every write and every request that cannot be taken
/// back, and stops when it is over, leaving what it had begun to the next holder (an open
/// batch is reconciled, a sync is read again).
pub struct HeldLease {
    repo: std::sync::Arc<dyn LeaseRepository>,
    kind: LeaseKind,
    task: TaskId,
    worker: String,
    secs: i64,
    since: std::sync::Mutex<tokio::time::Instant>,
}

impl HeldLease {
    /// Lease a task as [`LeaseRepository::lease_task`] does, and hold it from the moment before
    /// the request.
    pub async fn take(
        repo: &std::sync::Arc<dyn LeaseRepository>,
        kind: LeaseKind,
        worker: &str,
        states: Vec<TaskState>,
        secs: i64,
    ) -> Result<Option<(LeasedTask, HeldLease)>, RepoError> {
        let since = tokio::time::Instant::now();
        let Some(task) = repo.lease_task(kind, worker, states, secs).await? else {
            return Ok(None);
        };
        let lease = HeldLease::new(repo.clone(), kind, task.id, worker, secs, since);
        Ok(Some((task, lease)))
    }

    /// A lease on `task` taken (or renewed) by a request that started at `since`.
    pub(crate) fn new(
        repo: std::sync::Arc<dyn LeaseRepository>,
        kind: LeaseKind,
        task: TaskId,
        worker: &str,
        secs: i64,
        since: tokio::time::Instant,
    ) -> Self {
        Self {
            repo,
            kind,
            task,
            worker: worker.to_owned(),
            secs,
            since: std::sync::Mutex::new(since),
        }
    }

    fn since(&self) -> tokio::time::Instant {
        *self.since.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn length(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::try_from(self.secs).unwrap_or(0))
    }

    /// Whether the lease is over by this process's clock.
    pub fn is_over(&self) -> bool {
        self.since().elapsed() >= self.length()
    }

    /// The last moment a request that cannot be taken back may leave under this lease: half
    /// the lease after it began, so that the request is answered (or given up, the platform
    /// client's timeout being shorter than that half) while the lease still holds, and the next
    /// holder's reconciliation sees what it did.
    pub fn send_by(&self) -> tokio::time::Instant {
        self.since() + self.length() / 2
    }

    /// Extend the lease in the database; `None` when another worker has it (or the task is
    /// gone), else the task's current state.
    pub async fn renew(&self) -> Result<Option<TaskState>, RepoError> {
        let started = tokio::time::Instant::now();
        let state = self
            .repo
            .renew_lease(self.kind, self.task, &self.worker, self.secs)
            .await?;
        if state.is_some() {
            *self.since.lock().unwrap_or_else(|p| p.into_inner()) = started;
        }
        Ok(state)
    }

    /// Before a write: renew when a third of the lease has gone, and refuse when it is over or
    /// lost.
    pub async fn keep(&self) -> Result<(), super::ExecError> {
        if self.since().elapsed() >= self.length() / 3 && self.renew().await?.is_none() {
            return Err(super::ExecError::LeaseLost(self.task));
        }
        if self.is_over() {
            return Err(super::ExecError::LeaseLost(self.task));
        }
        Ok(())
    }
}
