//! Dispatch: every lead of a running task is sent to the platform exactly once (see the module
//! docs of [`super`]): claimed into a recorded batch before `assign_jobs`, its jobs recorded
//! after, and a batch whose outcome is unknown reconciled against the platform's job list before
//! anything else is sent for the task.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kernel::{BatchId, Clock, RepoError, TaskId, TaskLeadId};

use super::{
    ExecError, ExecutionSettings, HeldLease, LeaseKind, LeaseRepository, LeasedTask,
    LifecycleRepository,
};
use crate::TaskState;
use crate::platform::{Contact, MAX_ASSIGN_BATCH, OutboundPlatform, PlatformError, SendGate};

/// A task lead to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchLead {
    /// The task lead (its id is the job's reference id).
    pub id: TaskLeadId,
    /// Full phone.
    pub phone: String,
    /// Customer name.
    pub customer_name: String,
}

/// A recorded dispatch batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Batch id.
    pub id: BatchId,
    /// When it was claimed.
    pub created_at: DateTime<Utc>,
    /// Its leads still `assigning`.
    pub leads: Vec<DispatchLead>,
}

/// Storage of dispatch batches.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait DispatchRepository: Send + Sync + 'static {
    /// Claim up to `max` pending leads of the task with ids above `after` into a new batch (they
    /// become `assigning`), in one transaction.
    async fn claim_batch(
        &self,
        task: TaskId,
        worker: &str,
        max: i64,
        after: TaskLeadId,
    ) -> Result<Option<Batch>, RepoError>;
    /// Record the jobs of a batch; its leads without a job go back to `pending`; the batch
    /// closes.
    async fn record_batch(
        &self,
        batch: BatchId,
        jobs: Vec<(TaskLeadId, String)>,
    ) -> Result<(), RepoError>;
    /// The batch certainly did nothing: its leads go back to `pending`; the batch closes.
    async fn release_batch(&self, batch: BatchId) -> Result<(), RepoError>;
    /// Note that the batch's request is about to leave; false (and nothing noted) when the
    /// batch is no longer open, so that the request must not leave.
    async fn mark_sent(&self, batch: BatchId) -> Result<bool, RepoError>;
    /// [`DispatchRepository::release_batch`] if the batch is open and its request never was
    /// about to leave (see [`DispatchRepository::mark_sent`]; the two exclude each other);
    /// whether it was released.
    async fn release_unsent(&self, batch: BatchId) -> Result<bool, RepoError>;
    /// Open batches of the task (claimed, outcome not recorded).
    async fn open_batches(&self, task: TaskId) -> Result<Vec<Batch>, RepoError>;
    /// Leads of the task with a recorded job.
    async fn jobs_recorded(&self, task: TaskId) -> Result<u64, RepoError>;
}

/// What one dispatcher turn did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DispatchReport {
    /// Jobs assigned by new requests.
    pub assigned: u64,
    /// Leads found on the platform by reconciliation.
    pub reconciled: u64,
    /// Leads returned to pending by reconciliation.
    pub requeued: u64,
    /// Whether the task has nothing left to send.
    pub done: bool,
    /// Whether the turn sent nothing because a batch of the task may still be in flight (it is
    /// reconciled once it is old enough).
    pub waiting: bool,
}

/// Sends leads to the platform.
#[derive(Clone)]
pub struct Dispatcher {
    batches: Arc<dyn DispatchRepository>,
    leases: Arc<dyn LeaseRepository>,
    tasks: Arc<dyn LifecycleRepository>,
    platform: Arc<dyn OutboundPlatform>,
    clock: Arc<dyn Clock>,
    settings: ExecutionSettings,
    /// Set when the process shuts down: a turn ends after its current batch.
    stopping: Arc<AtomicBool>,
}

fn contact(l: &DispatchLead) -> Contact {
    Contact {
        phone: l.phone.clone(),
        name: l.customer_name.clone(),
        honorific: None,
        reference_id: l.id.to_string(),
        extras: vec![],
    }
}

/// What a batch's request passes before it leaves: the lease still has time (see
/// [`HeldLease::send_by`]), and the batch is noted as sent while it is still open (a holder
/// that took the task over may have given it back meanwhile).
struct BatchGate {
    send_by: tokio::time::Instant,
    batches: Arc<dyn DispatchRepository>,
    batch: BatchId,
}

#[async_trait]
impl SendGate for BatchGate {
    async fn pass(&self) -> Result<(), PlatformError> {
        crate::platform::SendBy(self.send_by).pass().await?;
        match self.batches.mark_sent(self.batch).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(PlatformError::Busy(
                "not sent: the batch was given back meanwhile".to_owned(),
            )),
            Err(e) => Err(PlatformError::Unavailable(format!(
                "not sent: the batch could not be noted as sent: {e}"
            ))),
        }
    }
}

/// The task lead a job's reference id names, if it is one of `ours`.
fn reference(reference_id: &str, ours: &HashSet<TaskLeadId>) -> Option<TaskLeadId> {
    reference_id
        .parse::<i64>()
        .ok()
        .map(TaskLeadId)
        .filter(|r| ours.contains(r))
}

impl Dispatcher {
    /// Wire the service.
    pub fn new(
        batches: Arc<dyn DispatchRepository>,
        leases: Arc<dyn LeaseRepository>,
        tasks: Arc<dyn LifecycleRepository>,
        platform: Arc<dyn OutboundPlatform>,
        clock: Arc<dyn Clock>,
        settings: ExecutionSettings,
    ) -> Self {
        Self {
            batches,
            leases,
            tasks,
            platform,
            clock,
            settings,
            stopping: Arc::default(),
        }
    }

    /// Give back what this worker's name still holds from an earlier process of the same name
    /// (a restart after a crash): its tasks and runs are taken up again at once instead of after
    /// their leases expire. Call before this process's loops start.
    pub async fn take_back_leases(&self) -> Result<u64, ExecError> {
        Ok(self.leases.release_all(&self.settings.worker_id).await?)
    }

    /// Ask running turns to end after their current batch (shutdown): the batch is recorded and
    /// the lease released as usual.
    pub fn request_stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    /// One turn: lease a running task with work, reconcile its open batches, send pending leads
    /// in batches, give the lease back. `Ok(None)` when there was nothing to do.
    pub async fn dispatch_turn(&self) -> Result<Option<DispatchReport>, ExecError> {
        let s = &self.settings;
        let Some((task, lease)) = HeldLease::take(
            &self.leases,
            LeaseKind::Dispatch,
            &s.worker_id,
            vec![TaskState::Running],
            s.lease_secs,
        )
        .await?
        else {
            return Ok(None);
        };
        let result = self.dispatch_leased(&task, &lease).await;
        self.leases
            .release_lease(LeaseKind::Dispatch, task.id, &s.worker_id)
            .await?;
        result.map(Some)
    }

    async fn dispatch_leased(
        &self,
        task: &LeasedTask,
        lease: &HeldLease,
    ) -> Result<DispatchReport, ExecError> {
        let mut report = DispatchReport::default();
        let Some(group) = task.job_group_id.clone() else {
            return Ok(report);
        };
        // 1. settle batches whose outcome is unknown: one whose request never was about to
        // leave (its sender died or gave up while it waited for a slot) did nothing, and goes
        // back at once, without asking the platform or waiting for it
        let mut open = Vec::new();
        for b in self.batches.open_batches(task.id).await? {
            if self.batches.release_unsent(b.id).await? {
                report.requeued += b.leads.len() as u64;
            } else {
                open.push(b);
            }
        }
        if !open.is_empty() {
            let now = self.clock.now();
            let (old, young): (Vec<Batch>, Vec<Batch>) = open
                .into_iter()
                .partition(|b| now - b.created_at >= self.settings.reconcile_after);
            if !old.is_empty() {
                let (found, requeued) = self.reconcile(task.id, &group, &old, lease).await?;
                report.reconciled += found;
                report.requeued += requeued;
            }
            if !young.is_empty() {
                // may still be in flight (another instance crashed moments ago): wait
                report.waiting = true;
                return Ok(report);
            }
        }
        // 2. send pending leads
        self.send_pending(task, &group, lease, report).await
    }

    async fn send_pending(
        &self,
        task: &LeasedTask,
        group: &str,
        lease: &HeldLease,
        mut report: DispatchReport,
    ) -> Result<DispatchReport, ExecError> {
        let s = &self.settings;
        // claims move forward through the task's leads; each turn starts again from the
        // beginning, so leads requeued by a reconciliation are sent too
        let start = TaskLeadId(0);
        let mut after = start;
        // whether a batch of this turn was assigned: a stop that came while it was in flight must
        // cancel what it created (the stop's own cancel ran before these jobs existed)
        let mut sent = false;
        for _ in 0..s.batches_per_turn {
            if self.stopping.load(Ordering::SeqCst) {
                break;
            }
            match lease.renew().await? {
                Some(TaskState::Running) => {}
                Some(TaskState::Stopped) if sent => {
                    self.cancel_after_stop(task.id, group).await?;
                    return Ok(report);
                }
                _ => return Ok(report), // lost the lease, or paused / stopped meanwhile
            }
            let max = s.batch_size.min(MAX_ASSIGN_BATCH) as i64;
            let Some(batch) = self
                .batches
                .claim_batch(task.id, &s.worker_id, max, after)
                .await?
            else {
                if after == start {
                    report.done = true;
                    return Ok(report);
                }
                after = start; // once more from the start: leads requeued behind the cursor
                continue;
            };
            after = batch.leads.iter().map(|l| l.id).max().unwrap_or(after);
            let contacts: Vec<Contact> = batch.leads.iter().map(contact).collect();
            let gate = Arc::new(BatchGate {
                send_by: lease.send_by(),
                batches: self.batches.clone(),
                batch: batch.id,
            });
            let outcome = self.platform.assign_jobs(group, contacts, gate).await;
            if lease.is_over() {
                // this process stalled past its lease while the batch was out: another worker
                // may hold the task now, so nothing is written; the batch stays open and the
                // next holder's reconciliation finds what the platform made of it
                tracing::warn!(task = %task.id, batch = %batch.id, "dispatch lease ran out while a batch was in flight; left to the next holder");
                return Err(ExecError::LeaseLost(task.id));
            }
            match outcome {
                Ok(jobs) => {
                    let ours: HashSet<TaskLeadId> = batch.leads.iter().map(|l| l.id).collect();
                    let pairs: Vec<(TaskLeadId, String)> = jobs
                        .into_iter()
                        .filter_map(|j| reference(&j.reference_id, &ours).map(|r| (r, j.job_id)))
                        .collect();
                    report.assigned += pairs.len() as u64;
                    self.batches.record_batch(batch.id, pairs).await?;
                    sent = true;
                }
                Err(PlatformError::Rejected { code, message }) => {
                    tracing::warn!(task = %task.id, code = %code, "assign_jobs rejected; leads back to pending");
                    self.batches.release_batch(batch.id).await?;
                    return Err(ExecError::Platform(PlatformError::Rejected {
                        code,
                        message,
                    }));
                }
                Err(e @ (PlatformError::Unavailable(_) | PlatformError::Busy(_))) => {
                    // the port's contract: unavailable or busy means nothing took effect
                    self.batches.release_batch(batch.id).await?;
                    return Err(ExecError::Platform(e));
                }
                Err(e @ PlatformError::Unclear(_)) => {
                    // the platform answered without saying what it did: nothing is in flight,
                    // so the batch is settled now instead of after `reconcile_after`
                    tracing::warn!(task = %task.id, batch = %batch.id, error = %e, "assign_jobs outcome unclear; reconciling at once");
                    let (found, requeued) = self
                        .reconcile(task.id, group, std::slice::from_ref(&batch), lease)
                        .await?;
                    report.reconciled += found;
                    report.requeued += requeued;
                    sent |= found > 0;
                }
                Err(e) => {
                    // ambiguous: leave the batch open; a later turn reconciles it
                    tracing::warn!(task = %task.id, batch = %batch.id, error = %e, "assign_jobs outcome unknown");
                    return Err(e.into());
                }
            }
        }
        // the turn ends without another look at the task's state: look now
        if sent && let Some((TaskState::Stopped, _)) = self.tasks.task_group(task.id).await? {
            self.cancel_after_stop(task.id, group).await?;
        }
        Ok(report)
    }

    /// The task was stopped while a batch was in flight: the group's jobs are cancelled again,
    /// since the stop's own cancel ran before this batch's jobs existed. A group the platform no
    /// longer knows has nothing to cancel. Any other failure (after the client's retries) is the
    /// turn's error, logged by the worker: the leads are already `cancelled` here, but the
    /// platform may still call the jobs of this one batch.
    async fn cancel_after_stop(&self, task: TaskId, group: &str) -> Result<(), ExecError> {
        match self.platform.cancel_jobs(group).await {
            Ok(()) | Err(PlatformError::NotFound) => Ok(()),
            Err(e) => {
                tracing::warn!(task = %task, error = %e, "cancelling the jobs of a stopped task failed");
                Err(e.into())
            }
        }
    }

    /// Find the jobs of open batches on the platform; record found leads, requeue the rest.
    /// Returns (found, requeued).
    ///
    /// The platform lists a group's jobs in the order it created them, and these batches' jobs
    /// were created after every recorded one: the search starts at the page where new jobs are
    /// listed. That first page also gives the group's count of jobs; less the jobs recorded
    /// here, it is the number of these batches' leads that have a job, so the search ends as
    /// soon as it found that many (at once when it is zero), and reads the earlier pages only if
    /// the later ones held fewer. A lead goes back to `pending` only when the count says it has
    /// no job, or after the whole group was listed without it.
    pub async fn reconcile(
        &self,
        task: TaskId,
        group: &str,
        old: &[Batch],
        lease: &HeldLease,
    ) -> Result<(u64, u64), ExecError> {
        // in this order: a job recorded meanwhile (by a result) either counts as recorded or is
        // still looked for, never both
        let recorded = self.batches.jobs_recorded(task).await?;
        let batches: Vec<Batch> = self
            .batches
            .open_batches(task)
            .await?
            .into_iter()
            .filter(|b| old.iter().any(|o| o.id == b.id))
            .collect();
        let wanted: HashMap<String, BatchId> = batches
            .iter()
            .flat_map(|b| b.leads.iter().map(|l| (l.id.to_string(), b.id)))
            .collect();
        let mut found: HashMap<BatchId, Vec<(TaskLeadId, String)>> = HashMap::new();
        if !wanted.is_empty() {
            // a batch's leads no longer `assigning` may have had their jobs recorded by a result:
            // the recorded jobs include at most that many of these batches' own
            let batch_size = self.settings.batch_size.min(MAX_ASSIGN_BATCH);
            let own: u64 = batches
                .iter()
                .map(|b| batch_size.saturating_sub(b.leads.len()) as u64)
                .sum();
            let page_size = self.settings.page_size.max(1);
            let first =
                u32::try_from(recorded.saturating_sub(own) / u64::from(page_size)).unwrap_or(0) + 1;
            let (mut seen, on_platform) = self
                .search(group, first, None, recorded, &wanted, &mut found)
                .await?;
            let unrecorded = on_platform.saturating_sub(recorded);
            if seen < unrecorded && first > 1 {
                seen += self
                    .search(group, 1, Some(first - 1), recorded, &wanted, &mut found)
                    .await?
                    .0;
            }
            tracing::debug!(
                unrecorded,
                found = seen,
                from_page = first,
                "reconciliation searched"
            );
        }
        let batches = &batches;
        let (mut n_found, mut n_requeued) = (0u64, 0u64);
        for b in batches {
            let jobs = found.remove(&b.id).unwrap_or_default();
            n_found += jobs.len() as u64;
            n_requeued += b.leads.len().saturating_sub(jobs.len()) as u64;
            // reading the group can take long: a holder that stalled past its lease writes
            // nothing (the next one reconciles again)
            lease.keep().await?;
            self.batches.record_batch(b.id, jobs).await?;
        }
        tracing::info!(
            found = n_found,
            requeued = n_requeued,
            "reconciled open dispatch batches"
        );
        Ok((n_found, n_requeued))
    }

    /// Read the group's pages `from..=to` (to the end without `to`), keeping the jobs whose
    /// reference id is `wanted`, until as many were found as the group has jobs beyond the
    /// `recorded` ones; returns how many new ones were found, and the group's count of jobs.
    async fn search(
        &self,
        group: &str,
        from: u32,
        to: Option<u32>,
        recorded: u64,
        wanted: &HashMap<String, BatchId>,
        found: &mut HashMap<BatchId, Vec<(TaskLeadId, String)>>,
    ) -> Result<(u64, u64), ExecError> {
        let already: u64 = found.values().map(|v| v.len() as u64).sum();
        let mut new = 0;
        let mut page = from;
        loop {
            let p = self
                .platform
                .query_job_results(group, page, self.settings.page_size)
                .await?;
            for r in &p.items {
                if let (Some(batch), Ok(id)) =
                    (wanted.get(&r.reference_id), r.reference_id.parse::<i64>())
                {
                    let list = found.entry(*batch).or_default();
                    if !list.iter().any(|(i, _)| i.0 == id) {
                        list.push((TaskLeadId(id), r.job_id.clone()));
                        new += 1;
                    }
                }
            }
            let all_found = already + new >= p.total.saturating_sub(recorded);
            if all_found || p.is_last(page) || to.is_some_and(|t| page >= t) {
                return Ok((new, p.total));
            }
            page += 1;
        }
    }
}
