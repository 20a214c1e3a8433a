//! The monitor's tick (`auto_task_monitor`): for every running or paused task, one instance at
//! a time, pull the results that changed and complete the tasks whose leads are all final.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use chrono::Duration;
use kernel::{Clock, TaskId};

use super::{
    ExecError, ExecutionSettings, HeldLease, LeaseKind, LeaseRepository, LeasedTask,
    LifecycleRepository, Results,
};
use crate::TaskState;
use crate::platform::{GroupProgress, OutboundPlatform};

/// A start older than this that never got its job group was interrupted: it is undone.
const STALE_START_MINUTES: i64 = 2;

/// A task at its last sync: the group's progress then, when it was asked for, and the jobs
/// recorded then.
///
/// - An unchanged progress means no job changed (job states only move forward): the tick skips
///   paging through results.
/// - More jobs recorded since means the group grew, so its results changed: the tick syncs
///   without asking for the progress first (a request of the account's budget that could only
///   answer "changed", at every tick while a task is being dispatched).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Synced {
    progress: Option<GroupProgress>,
    jobs_recorded: u64,
}

/// What one tick did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TickReport {
    /// Tasks looked at.
    pub tasks: u64,
    /// Task leads changed.
    pub changed: u64,
    /// Tasks completed.
    pub completed: u64,
}

/// The monitor.
#[derive(Clone)]
pub struct Monitor {
    leases: Arc<dyn LeaseRepository>,
    tasks: Arc<dyn LifecycleRepository>,
    results: Results,
    platform: Arc<dyn OutboundPlatform>,
    clock: Arc<dyn Clock>,
    settings: ExecutionSettings,
    /// What each task looked like at its last sync (see [`Synced`]).
    synced: Arc<Mutex<HashMap<TaskId, Synced>>>,
}

impl Monitor {
    /// Wire the service.
    pub fn new(
        leases: Arc<dyn LeaseRepository>,
        tasks: Arc<dyn LifecycleRepository>,
        results: Results,
        platform: Arc<dyn OutboundPlatform>,
        clock: Arc<dyn Clock>,
        settings: ExecutionSettings,
    ) -> Self {
        Self {
            leases,
            tasks,
            results,
            platform,
            clock,
            settings,
            synced: Arc::default(),
        }
    }

    /// One tick over at most `max_tasks` tasks: undo starts that never got a job group, then
    /// sync every running or paused task (one instance per task) and complete those whose leads
    /// are all final. A task whose group the platform cannot answer for (its group gone, the
    /// platform busy) does not hold up the others: the tick goes on and reports the first such
    /// error at its end. A storage error ends the tick at once.
    pub async fn tick(&self, max_tasks: usize) -> Result<TickReport, ExecError> {
        let s = &self.settings;
        let mut report = TickReport::default();
        self.tasks
            .undo_stale_starts(self.clock.now() - Duration::minutes(STALE_START_MINUTES))
            .await?;
        let mut seen = HashSet::new();
        let mut first_error = None;
        for _ in 0..max_tasks {
            let Some((task, lease)) = HeldLease::take(
                &self.leases,
                LeaseKind::Monitor,
                &s.worker_id,
                vec![TaskState::Running, TaskState::Paused],
                s.lease_secs,
            )
            .await?
            else {
                break;
            };
            if !seen.insert(task.id) {
                self.leases
                    .release_lease(LeaseKind::Monitor, task.id, &s.worker_id)
                    .await?;
                break;
            }
            // the lease is kept until the end of the tick, so this tick moves on to other tasks
            match self.watch(&task, &lease).await {
                Ok((changed, completed)) => {
                    report.tasks += 1;
                    report.changed += changed;
                    report.completed += u64::from(completed);
                }
                Err(e @ ExecError::LeaseLost(_)) => {
                    tracing::warn!(error = %e, "monitor stalled past its lease; the task is left to the next holder");
                    first_error.get_or_insert(e);
                }
                Err(ExecError::Platform(e)) => {
                    tracing::warn!(task = %task.id, error = %e, "monitor could not read the task's group; the others go on");
                    first_error.get_or_insert(ExecError::Platform(e));
                }
                Err(e) => {
                    self.release_all(&seen).await?;
                    return Err(e);
                }
            }
        }
        self.release_all(&seen).await?;
        match first_error {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    async fn release_all(&self, leased: &HashSet<TaskId>) -> Result<(), ExecError> {
        for id in leased {
            self.leases
                .release_lease(LeaseKind::Monitor, *id, &self.settings.worker_id)
                .await?;
        }
        Ok(())
    }

    /// Sync one leased task if its group moved; complete it if it is done.
    async fn watch(&self, task: &LeasedTask, lease: &HeldLease) -> Result<(u64, bool), ExecError> {
        let Some(group) = &task.job_group_id else {
            return Ok((0, false));
        };
        let last = self
            .synced
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&task.id)
            .copied();
        let grew = task.jobs_recorded > last.map_or(0, |l| l.jobs_recorded);
        let progress = if grew {
            None
        } else {
            Some(self.platform.describe_job_group(group).await?)
        };
        let changed = if progress.is_some() && progress == last.and_then(|l| l.progress) {
            0
        } else {
            let (_, changed) = self.results.sync_task(task.id, group, Some(lease)).await?;
            let now = Synced {
                progress,
                jobs_recorded: task.jobs_recorded,
            };
            self.synced
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(task.id, now);
            changed
        };
        let completed = task.state == TaskState::Running && {
            lease.keep().await?;
            self.tasks.complete_if_done(task.id).await?
        };
        Ok((changed, completed))
    }
}
