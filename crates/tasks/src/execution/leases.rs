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
