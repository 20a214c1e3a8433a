//! Running call tasks: start, dispatch (exactly once), monitor, suspend/resume/stop.
//!
//! Exactly-once dispatch works like this. A dispatcher leases a running task
//! (`locked_by`/`locked_until`), so one instance works a task at a time. It claims up to 99
//! pending task leads into a recorded *batch* (leads become `assigning`) **before** calling
//! `assign_jobs`, and records the job ids **after**. If the call fails definitely, the leads go
//! back to `pending`. If its outcome is unknown (timeout, 5xx, crash), the batch stays open; the
//! next dispatcher of that task first *reconciles*: it reads the group's jobs from the platform
//! and records those whose reference id belongs to the batch, returning only the really missing
//! leads to `pending`. So a lead is sent again only when the platform provably has no job for it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use kernel::{Clock, OrgScope, Page, PageRequest, RepoError, TaskId};
use serde::Serialize;

use crate::platform::{Contact, MAX_ASSIGN_BATCH, OutboundPlatform, PlatformError, Strategy};
use crate::results::{CallStatus, LeadResult, interpret};
use crate::{CallTask, TaskState, TransitionError};

/// Results applied to the database in one statement during a sync.
const SYNC_WRITE_ROWS: usize = 2000;
/// Bulks of one sync written at the same time.
const SYNC_WRITERS: usize = 2;

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

/// A task lead to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchLead {
    /// `leads_task_list.id` (the reference id).
    pub id: i64,
    /// Full phone.
    pub phone: String,
    /// Customer name.
    pub customer_name: String,
}

/// A recorded dispatch batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Batch id.
    pub id: i64,
    /// When it was claimed.
    pub created_at: DateTime<Utc>,
    /// Its leads still `assigning`.
    pub leads: Vec<DispatchLead>,
}

/// A page of `query-task-execution` rows, and the task's lead counts per call status.
pub type Executions = (Page<ExecutionRow>, BTreeMap<String, i64>);

/// One row of `query-task-execution`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExecutionRow {
    /// Task lead id.
    pub id: i64,
    /// Lead id.
    pub lead_id: i64,
    /// Customer name.
    pub customer_name: String,
    /// Full phone (mask at the edge).
    pub phone: String,
    /// Status.
    pub call_status: String,
    /// Attempts.
    pub attempts: i32,
    /// Latest call.
    pub last_call_time: Option<DateTime<Utc>>,
    /// Duration, seconds.
    pub duration_seconds: Option<i32>,
    /// Intent level.
    pub intent_level: Option<String>,
    /// Platform job.
    pub job_id: Option<String>,
    /// Tags.
    pub intent_tags: Vec<String>,
    /// Summary.
    pub summary: Option<String>,
    /// Follow-up suggestion.
    pub follow_suggestion: Option<String>,
}

/// Counts of one task's leads.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct TaskStatistics {
    /// Leads in the task.
    pub leads_total: i64,
    /// Leads with a platform job.
    pub dispatched: i64,
    /// Leads whose call was attempted.
    pub called: i64,
    /// Leads connected.
    pub connected: i64,
    /// Average duration of connected calls, seconds.
    pub avg_duration_seconds: f64,
    /// Leads per call status.
    pub by_call_status: BTreeMap<String, i64>,
    /// Leads per intent level (connected leads with a level).
    pub by_intent_level: BTreeMap<String, i64>,
    /// Leads in a final status.
    pub finished: i64,
}

/// A query execution run.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Run id.
    pub id: i64,
    /// Task.
    pub task_id: TaskId,
    /// pending, running, succeeded, failed.
    pub status: String,
    /// Leads of the task.
    pub total: i64,
    /// Results pulled.
    pub processed: i64,
    /// Next platform page to pull.
    pub next_page: i32,
    /// Started.
    pub started_at: Option<DateTime<Utc>>,
    /// Finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it failed.
    pub error: Option<String>,
}

/// Storage of execution state.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait ExecutionRepository: Send + Sync + 'static {
    /// Move a task of `scope` from one of `from` to `to` atomically.
    async fn transition(
        &self,
        scope: &OrgScope,
        id: TaskId,
        from: Vec<TaskState>,
        to: TaskState,
    ) -> Result<CallTask, TransitionError>;
    /// Move a task from `from` to `to` if it is still in `from` (internal; no scope).
    async fn force_state(
        &self,
        id: TaskId,
        from: TaskState,
        to: TaskState,
    ) -> Result<bool, RepoError>;
    /// Record the job group of a started task.
    async fn set_job_group(&self, id: TaskId, job_group_id: &str) -> Result<(), RepoError>;
    /// Tasks stuck in `running` without a job group since before `older_than` go back to `created`.
    async fn undo_stale_starts(&self, older_than: DateTime<Utc>) -> Result<u64, RepoError>;
    /// Turn the task's non-final leads into `cancelled`.
    async fn cancel_open_leads(&self, id: TaskId) -> Result<u64, RepoError>;
    /// Lease one task in `states` whose lease (of this kind) is free or expired; for
    /// [`LeaseKind::Dispatch`] only tasks with a job group and pending or open work.
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
    /// Claim up to `max` pending leads of the task with ids above `after` into a new batch (they
    /// become `assigning`).
    async fn claim_batch(
        &self,
        task: TaskId,
        worker: &str,
        max: i64,
        after: i64,
    ) -> Result<Option<Batch>, RepoError>;
    /// Record the jobs of a batch; its leads without a job go back to `pending`; the batch closes.
    async fn record_batch(&self, batch_id: i64, jobs: Vec<(i64, String)>) -> Result<(), RepoError>;
    /// The batch certainly did nothing: its leads go back to `pending`; the batch closes.
    async fn release_batch(&self, batch_id: i64) -> Result<(), RepoError>;
    /// Open batches of the task (claimed, outcome not recorded).
    async fn open_batches(&self, task: TaskId) -> Result<Vec<Batch>, RepoError>;
    /// Apply interpreted results to the task's leads; returns how many changed.
    async fn apply_results(&self, task: TaskId, results: Vec<LeadResult>)
    -> Result<u64, RepoError>;
    /// Recompute the task's called / connected counters from its leads.
    async fn refresh_counters(&self, task: TaskId) -> Result<(), RepoError>;
    /// Move a running task whose leads are all final to `completed`.
    async fn complete_if_done(&self, task: TaskId) -> Result<bool, RepoError>;
    /// A task of `scope` and its statistics (one round trip).
    async fn statistics(
        &self,
        scope: &OrgScope,
        task: TaskId,
    ) -> Result<Option<(CallTask, TaskStatistics)>, RepoError>;
    /// Execution rows of a task of `scope` (optionally one status) and counts per status.
    async fn executions(
        &self,
        scope: &OrgScope,
        task: TaskId,
        status: Option<String>,
        page: PageRequest,
    ) -> Result<Option<Executions>, RepoError>;
    /// Create a run for a task of `scope`, or return its unfinished one.
    async fn create_run(&self, scope: &OrgScope, task: TaskId) -> Result<Option<Run>, RepoError>;
    /// A run of a task of `scope`.
    async fn get_run(&self, scope: &OrgScope, run: i64) -> Result<Option<Run>, RepoError>;
    /// Lease one unfinished run (free or expired lease); marks it running.
    async fn lease_run(&self, worker: &str, lease_secs: i64) -> Result<Option<Run>, RepoError>;
    /// Persist a run's progress and extend its lease; false when the lease was lost.
    async fn save_run_progress(
        &self,
        run: i64,
        worker: &str,
        processed: i64,
        next_page: i32,
        lease_secs: i64,
    ) -> Result<bool, RepoError>;
    /// Finish a run.
    async fn finish_run(
        &self,
        run: i64,
        worker: &str,
        ok: bool,
        error: Option<String>,
    ) -> Result<(), RepoError>;
    /// Job group and state of a task (internal; no scope).
    async fn task_group(
        &self,
        task: TaskId,
    ) -> Result<Option<(TaskState, Option<String>)>, RepoError>;
}

/// Why an execution operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// No such task (or scene / run) in scope.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Start refused: not in state `created`.
    #[error("task not startable in state {0:?}")]
    NotStartable(TaskState),
    /// Transition refused.
    #[error("invalid state {0:?}")]
    InvalidState(TaskState),
    /// Start refused: no script.
    #[error("script not set")]
    ScriptNotSet,
    /// Bad input.
    #[error("{0}")]
    Invalid(String),
    /// The platform failed; local state was restored.
    #[error(transparent)]
    Platform(#[from] PlatformError),
    /// Storage failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl From<TransitionError> for ExecError {
    fn from(e: TransitionError) -> Self {
        match e {
            TransitionError::NotFound => ExecError::NotFound("task"),
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
    /// Page size for reading results (<= 100).
    pub page_size: u32,
}

impl Default for ExecutionSettings {
    fn default() -> Self {
        Self {
            strategy: Strategy {
                working_time: vec![crate::platform::CallWindow {
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
            page_size: 100,
        }
    }
}

/// Result of `start`.
#[derive(Debug, Clone, PartialEq)]
pub struct Started {
    /// Task id.
    pub task_id: TaskId,
    /// Job group created.
    pub job_group_id: String,
    /// Leads that will be dispatched.
    pub leads_total: i64,
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
}

/// What one monitor tick did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TickReport {
    /// Tasks synced.
    pub tasks: u64,
    /// Task leads changed.
    pub changed: u64,
    /// Tasks completed.
    pub completed: u64,
}

/// Execution use cases over the repositories and the platform.
#[derive(Clone)]
pub struct ExecutionService {
    repo: Arc<dyn ExecutionRepository>,
    tasks: Arc<dyn crate::TaskRepository>,
    platform: Arc<dyn OutboundPlatform>,
    clock: Arc<dyn Clock>,
    settings: ExecutionSettings,
    /// Group progress at the last full sync, per task: an unchanged progress means no job
    /// changed (job states only move forward), so the monitor skips paging through results.
    synced: Arc<std::sync::Mutex<HashMap<TaskId, crate::platform::GroupProgress>>>,
    /// Set when the process shuts down: a dispatcher turn ends after its current batch.
    stopping: Arc<std::sync::atomic::AtomicBool>,
}

impl ExecutionService {
    /// Wire the service.
    pub fn new(
        repo: Arc<dyn ExecutionRepository>,
        tasks: Arc<dyn crate::TaskRepository>,
        platform: Arc<dyn OutboundPlatform>,
        clock: Arc<dyn Clock>,
        settings: ExecutionSettings,
    ) -> Self {
        Self {
            repo,
            tasks,
            platform,
            clock,
            settings,
            synced: Arc::default(),
            stopping: Arc::default(),
        }
    }

    /// Ask running dispatcher turns to end after their current batch (shutdown): the batch is
    /// recorded and the lease released as usual.
    pub fn request_stop(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Settings in force.
    pub fn settings(&self) -> &ExecutionSettings {
        &self.settings
    }

    /// The platform (for health checks).
    pub fn platform(&self) -> &Arc<dyn OutboundPlatform> {
        &self.platform
    }

    /// Start a task: 1→2 atomically, then create the job group. If the platform fails the task
    /// goes back to 1 and the error is returned; nothing is half-done.
    pub async fn start(&self, scope: &OrgScope, id: TaskId) -> Result<Started, ExecError> {
        let task = self
            .tasks
            .get(scope, id)
            .await?
            .ok_or(ExecError::NotFound("task"))?;
        if task.state != TaskState::Created {
            return Err(ExecError::NotStartable(task.state));
        }
        if task.script_id.trim().is_empty() {
            return Err(ExecError::ScriptNotSet);
        }
        let task = match self
            .repo
            .transition(scope, id, vec![TaskState::Created], TaskState::Running)
            .await
        {
            Ok(t) => t,
            Err(TransitionError::InvalidState(s)) => return Err(ExecError::NotStartable(s)),
            Err(e) => return Err(e.into()),
        };
        let name = format!("{}-{}", task.task_name, task.id);
        match self
            .platform
            .create_job_group(&name, &task.script_id, &self.settings.strategy)
            .await
        {
            Ok(group) => {
                self.repo.set_job_group(id, &group).await?;
                Ok(Started {
                    task_id: id,
                    job_group_id: group,
                    leads_total: task.leads_count,
                })
            }
            Err(e) => {
                self.repo
                    .force_state(id, TaskState::Running, TaskState::Created)
                    .await?;
                Err(e.into())
            }
        }
    }

    async fn platform_transition<F, Fut>(
        &self,
        scope: &OrgScope,
        id: TaskId,
        from: Vec<TaskState>,
        to: TaskState,
        call: F,
    ) -> Result<CallTask, ExecError>
    where
        F: FnOnce(Arc<dyn OutboundPlatform>, String) -> Fut,
        Fut: std::future::Future<Output = Result<(), PlatformError>>,
    {
        let before = self
            .tasks
            .get(scope, id)
            .await?
            .ok_or(ExecError::NotFound("task"))?;
        let task = self.repo.transition(scope, id, from, to).await?;
        if let Some(group) = task.job_group_id.clone()
            && let Err(e) = call(self.platform.clone(), group).await
        {
            match e {
                // nothing left on the platform to act on: the local change stands
                PlatformError::NotFound if to == TaskState::Stopped => {}
                e => {
                    self.repo.force_state(id, to, before.state).await?;
                    return Err(e.into());
                }
            }
        }
        Ok(task)
    }

    /// Suspend a running task (2→4) on the platform; dispatch pauses too.
    pub async fn suspend(&self, scope: &OrgScope, id: TaskId) -> Result<CallTask, ExecError> {
        self.platform_transition(
            scope,
            id,
            vec![TaskState::Running],
            TaskState::Paused,
            |p, g| async move { p.suspend_jobs(&g).await },
        )
        .await
    }

    /// Resume a paused task (4→2).
    pub async fn resume(&self, scope: &OrgScope, id: TaskId) -> Result<CallTask, ExecError> {
        self.platform_transition(
            scope,
            id,
            vec![TaskState::Paused],
            TaskState::Running,
            |p, g| async move { p.resume_jobs(&g).await },
        )
        .await
    }

    /// Stop a task (1/2/4→5): cancel its jobs, turn its unfinished leads into `cancelled`.
    pub async fn stop(&self, scope: &OrgScope, id: TaskId) -> Result<CallTask, ExecError> {
        let from = TaskState::sources_of(TaskState::Stopped);
        let task = self
            .platform_transition(scope, id, from, TaskState::Stopped, |p, g| async move {
                p.cancel_jobs(&g).await
            })
            .await?;
        self.repo.cancel_open_leads(id).await?;
        self.repo.refresh_counters(id).await?;
        Ok(self.tasks.get(scope, id).await?.unwrap_or(task))
    }

    /// One dispatcher turn: lease a running task with work, reconcile its open batches, send
    /// pending leads in batches, give the lease back. `Ok(None)` when there was nothing to do.
    pub async fn dispatch_turn(&self) -> Result<Option<DispatchReport>, ExecError> {
        let s = &self.settings;
        let Some(task) = self
            .repo
            .lease_task(
                LeaseKind::Dispatch,
                &s.worker_id,
                vec![TaskState::Running],
                s.lease_secs,
            )
            .await?
        else {
            return Ok(None);
        };
        let result = self.dispatch_leased(&task).await;
        self.repo
            .release_lease(LeaseKind::Dispatch, task.id, &s.worker_id)
            .await?;
        result.map(Some)
    }

    async fn dispatch_leased(&self, task: &LeasedTask) -> Result<DispatchReport, ExecError> {
        let s = &self.settings;
        let mut report = DispatchReport::default();
        let Some(group) = task.job_group_id.clone() else {
            return Ok(report);
        };
        // 1. settle batches whose outcome is unknown
        let open = self.repo.open_batches(task.id).await?;
        if !open.is_empty() {
            let now = self.clock.now();
            let (old, young): (Vec<Batch>, Vec<Batch>) = open
                .into_iter()
                .partition(|b| now - b.created_at >= s.reconcile_after);
            if !old.is_empty() {
                let (found, requeued) = self.reconcile(&group, &old).await?;
                report.reconciled += found;
                report.requeued += requeued;
            }
            if !young.is_empty() {
                // may still be in flight (another instance crashed moments ago): wait
                return Ok(report);
            }
        }
        // 2. send pending leads
        // claims move forward through the task's leads; each turn starts again from the
        // beginning, so leads requeued by a reconciliation are sent too
        let mut after = 0;
        for _ in 0..s.batches_per_turn {
            if self.stopping.load(std::sync::atomic::Ordering::SeqCst) {
                return Ok(report);
            }
            match self
                .repo
                .renew_lease(LeaseKind::Dispatch, task.id, &s.worker_id, s.lease_secs)
                .await?
            {
                Some(TaskState::Running) => {}
                _ => return Ok(report), // lost the lease, or paused / stopped meanwhile
            }
            let Some(batch) = self
                .repo
                .claim_batch(
                    task.id,
                    &s.worker_id,
                    s.batch_size.min(MAX_ASSIGN_BATCH) as i64,
                    after,
                )
                .await?
            else {
                if after == 0 {
                    report.done = true;
                    return Ok(report);
                }
                after = 0; // once more from the start: leads requeued behind the cursor
                continue;
            };
            after = batch.leads.iter().map(|l| l.id).max().unwrap_or(after);
            let contacts: Vec<Contact> = batch
                .leads
                .iter()
                .map(|l| Contact {
                    phone: l.phone.clone(),
                    name: l.customer_name.clone(),
                    honorific: None,
                    reference_id: l.id.to_string(),
                    extras: vec![],
                })
                .collect();
            match self.platform.assign_jobs(&group, contacts).await {
                Ok(jobs) => {
                    let ours: HashSet<i64> = batch.leads.iter().map(|l| l.id).collect();
                    let pairs: Vec<(i64, String)> = jobs
                        .into_iter()
                        .filter_map(|j| {
                            j.reference_id
                                .parse::<i64>()
                                .ok()
                                .filter(|r| ours.contains(r))
                                .map(|r| (r, j.job_id))
                        })
                        .collect();
                    report.assigned += pairs.len() as u64;
                    self.repo.record_batch(batch.id, pairs).await?;
                    // stopped while the request was in flight: cancel what it created
                    if let Some((TaskState::Stopped, _)) = self.repo.task_group(task.id).await? {
                        let _ = self.platform.cancel_jobs(&group).await;
                        return Ok(report);
                    }
                }
                Err(PlatformError::Rejected { code, .. }) => {
                    tracing::warn!(task = task.id, code = %code, "assign_jobs rejected; leads back to pending");
                    self.repo.release_batch(batch.id).await?;
                    return Err(ExecError::Platform(PlatformError::Rejected {
                        code,
                        message: String::new(),
                    }));
                }
                Err(PlatformError::Unavailable(m)) => {
                    // the client only says unavailable when nothing was sent
                    self.repo.release_batch(batch.id).await?;
                    return Err(ExecError::Platform(PlatformError::Unavailable(m)));
                }
                Err(e) => {
                    // ambiguous: leave the batch open; a later turn reconciles it
                    tracing::warn!(task = task.id, batch = batch.id, error = %e, "assign_jobs outcome unknown");
                    return Err(e.into());
                }
            }
        }
        Ok(report)
    }

    /// Find the jobs of open batches on the platform; record found leads, requeue the rest.
    pub async fn reconcile(&self, group: &str, batches: &[Batch]) -> Result<(u64, u64), ExecError> {
        let wanted: HashMap<String, i64> = batches
            .iter()
            .flat_map(|b| b.leads.iter().map(|l| (l.id.to_string(), b.id)))
            .collect();
        let mut found: HashMap<i64, Vec<(i64, String)>> = HashMap::new();
        let mut page = 1;
        loop {
            let p = self
                .platform
                .query_job_results(group, page, self.settings.page_size)
                .await?;
            for r in &p.items {
                if wanted.contains_key(&r.reference_id)
                    && let (Some(batch), Ok(id)) =
                        (wanted.get(&r.reference_id), r.reference_id.parse::<i64>())
                {
                    let list = found.entry(*batch).or_default();
                    if !list.iter().any(|(i, _)| *i == id) {
                        list.push((id, r.job_id.clone()));
                    }
                }
            }
            if p.items.is_empty() || u64::from(page) * u64::from(p.page_size.max(1)) >= p.total {
                break;
            }
            page += 1;
        }
        let (mut n_found, mut n_requeued) = (0u64, 0u64);
        for b in batches {
            let jobs = found.remove(&b.id).unwrap_or_default();
            n_found += jobs.len() as u64;
            n_requeued += (b.leads.len() - jobs.len().min(b.leads.len())) as u64;
            self.repo.record_batch(b.id, jobs).await?;
        }
        tracing::info!(
            found = n_found,
            requeued = n_requeued,
            "reconciled open dispatch batches"
        );
        Ok((n_found, n_requeued))
    }

    /// Pull every job result of a task's group and apply it. Returns (results pulled, leads changed).
    pub async fn sync_task(&self, task: TaskId, group: &str) -> Result<(u64, u64), ExecError> {
        // reading pages and writing results overlap: the next pages are fetched while the
        // database applies the previous ones, in bulks of up to SYNC_WRITE_ROWS rows
        let (mut tx, rx) = futures::channel::mpsc::channel::<Vec<LeadResult>>(16);
        let page_size = self.settings.page_size;
        let fetch = async move {
            let mut pulled = 0u64;
            let mut page = 1;
            loop {
                let p = self
                    .platform
                    .query_job_results(group, page, page_size)
                    .await?;
                pulled += p.items.len() as u64;
                let results: Vec<LeadResult> = p.items.iter().filter_map(interpret).collect();
                if !results.is_empty() && futures::SinkExt::send(&mut tx, results).await.is_err() {
                    break; // the writer failed; its error is reported
                }
                if p.items.is_empty() || u64::from(page) * u64::from(p.page_size.max(1)) >= p.total
                {
                    break;
                }
                page += 1;
            }
            Ok::<u64, ExecError>(pulled)
        };
        let write = async {
            use futures::{StreamExt, TryStreamExt};
            // bulks of SYNC_WRITE_ROWS, two written at a time (they touch different rows)
            rx.flat_map(futures::stream::iter)
                .chunks(SYNC_WRITE_ROWS)
                .map(|bulk| self.repo.apply_results(task, bulk))
                .buffer_unordered(SYNC_WRITERS)
                .map_err(ExecError::from)
                .try_fold(0u64, |acc, n| async move { Ok(acc + n) })
                .await
        };
        let (pulled, changed) = futures::join!(fetch, write);
        let (pulled, changed) = (pulled?, changed?);
        if changed > 0 {
            self.repo.refresh_counters(task).await?;
        }
        Ok((pulled, changed))
    }

    /// One monitor tick: sync every running or paused task (one instance per task), complete
    /// tasks whose leads are all final, undo starts that never got a job group.
    pub async fn monitor_tick(&self, max_tasks: usize) -> Result<TickReport, ExecError> {
        let s = &self.settings;
        let mut report = TickReport::default();
        self.repo
            .undo_stale_starts(self.clock.now() - Duration::minutes(2))
            .await?;
        let mut seen = HashSet::new();
        for _ in 0..max_tasks {
            let Some(task) = self
                .repo
                .lease_task(
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
                self.repo
                    .release_lease(LeaseKind::Monitor, task.id, &s.worker_id)
                    .await?;
                break;
            }
            let r = self.monitor_one(&task).await;
            // keep the lease until it expires when the task was handled, so this tick moves on
            if let Err(e) = r {
                self.repo
                    .release_lease(LeaseKind::Monitor, task.id, &s.worker_id)
                    .await?;
                return Err(e);
            }
            let (changed, completed) = r.unwrap_or((0, false));
            report.tasks += 1;
            report.changed += changed;
            report.completed += u64::from(completed);
        }
        // give back everything this tick leased
        for id in seen {
            self.repo
                .release_lease(LeaseKind::Monitor, id, &s.worker_id)
                .await?;
        }
        Ok(report)
    }

    async fn monitor_one(&self, task: &LeasedTask) -> Result<(u64, bool), ExecError> {
        let Some(group) = &task.job_group_id else {
            return Ok((0, false));
        };
        let progress = self.platform.describe_job_group(group).await?;
        let unchanged = {
            let synced = self.synced.lock().unwrap_or_else(|p| p.into_inner());
            synced.get(&task.id) == Some(&progress)
        };
        let changed = if unchanged {
            0
        } else {
            let (_, changed) = self.sync_task(task.id, group).await?;
            self.synced
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(task.id, progress);
            changed
        };
        let completed =
            task.state == TaskState::Running && self.repo.complete_if_done(task.id).await?;
        Ok((changed, completed))
    }

    /// Statistics of a task.
    pub async fn statistics(
        &self,
        scope: &OrgScope,
        id: TaskId,
    ) -> Result<(CallTask, TaskStatistics), ExecError> {
        self.repo
            .statistics(scope, id)
            .await?
            .ok_or(ExecError::NotFound("task"))
    }

    /// Execution rows of a task; with `refresh` the latest results are pulled first.
    pub async fn executions(
        &self,
        scope: &OrgScope,
        id: TaskId,
        status: Option<String>,
        page: PageRequest,
        refresh: bool,
    ) -> Result<(Page<ExecutionRow>, BTreeMap<String, i64>), ExecError> {
        if let Some(s) = &status
            && CallStatus::parse(s).is_none()
        {
            return Err(ExecError::Invalid(format!("unknown call_status `{s}`")));
        }
        let task = self
            .tasks
            .get(scope, id)
            .await?
            .ok_or(ExecError::NotFound("task"))?;
        if refresh && let Some(group) = &task.job_group_id {
            self.sync_task(id, group).await?;
        }
        self.repo
            .executions(scope, id, status, page)
            .await?
            .ok_or(ExecError::NotFound("task"))
    }

    /// Start a query execution run (or return the task's unfinished one).
    pub async fn start_run(&self, scope: &OrgScope, id: TaskId) -> Result<Run, ExecError> {
        self.repo
            .create_run(scope, id)
            .await?
            .ok_or(ExecError::NotFound("task"))
    }

    /// A run.
    pub async fn get_run(&self, scope: &OrgScope, run: i64) -> Result<Run, ExecError> {
        self.repo
            .get_run(scope, run)
            .await?
            .ok_or(ExecError::NotFound("run"))
    }

    /// Work one leased run to its end (or until its lease is lost). `Ok(false)` when no run waits.
    pub async fn run_turn(&self) -> Result<bool, ExecError> {
        let s = &self.settings;
        let Some(run) = self.repo.lease_run(&s.worker_id, s.lease_secs).await? else {
            return Ok(false);
        };
        let group = match self.repo.task_group(run.task_id).await? {
            Some((_, Some(g))) => g,
            _ => {
                self.repo
                    .finish_run(
                        run.id,
                        &s.worker_id,
                        false,
                        Some("任务尚未开始外呼，没有可查询的执行结果".into()),
                    )
                    .await?;
                return Ok(true);
            }
        };
        let mut processed = run.processed;
        let mut page = u32::try_from(run.next_page.max(1)).unwrap_or(1);
        loop {
            let p = match self
                .platform
                .query_job_results(&group, page, s.page_size)
                .await
            {
                Ok(p) => p,
                Err(e @ PlatformError::NotFound) | Err(e @ PlatformError::Rejected { .. }) => {
                    self.repo
                        .finish_run(
                            run.id,
                            &s.worker_id,
                            false,
                            Some(format!("外呼平台拒绝查询: {e}")),
                        )
                        .await?;
                    return Ok(true);
                }
                Err(e) => {
                    // keep progress; the lease expires and the run resumes later
                    return Err(e.into());
                }
            };
            let results: Vec<LeadResult> = p.items.iter().filter_map(interpret).collect();
            if !results.is_empty() {
                self.repo.apply_results(run.task_id, results).await?;
            }
            processed += p.items.len() as i64;
            let last =
                p.items.is_empty() || u64::from(page) * u64::from(p.page_size.max(1)) >= p.total;
            page += 1;
            if !self
                .repo
                .save_run_progress(run.id, &s.worker_id, processed, page as i32, s.lease_secs)
                .await?
            {
                return Ok(true); // someone else owns it now
            }
            if last {
                self.repo.refresh_counters(run.task_id).await?;
                self.repo
                    .finish_run(run.id, &s.worker_id, true, None)
                    .await?;
                return Ok(true);
            }
        }
    }
}
