//! Results: pulling the platform's job results into the task leads (sync), and reading them
//! back (a task's statistics, its per-lead rows).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kernel::{Entity, LeadId, OrgScope, Page, PageRequest, RepoError, TaskId, TaskLeadId};

use super::runs::Run;
use super::{ExecError, HeldLease};
use crate::call_status::{CallStatus, LeadResult, interpret};
use crate::platform::OutboundPlatform;
use crate::{CallTask, TaskRepository};

/// Results applied to the database in one statement during a sync, at most.
const SYNC_WRITE_ROWS: usize = 2000;
/// Bulks of one sync written at the same time.
const SYNC_WRITERS: usize = 2;

/// A page of `query-task-execution` rows, and the task's lead counts per call status.
pub type Executions = (Page<ExecutionRow>, BTreeMap<String, i64>);

/// One lead of a task with its latest result.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionRow {
    /// Task lead id.
    pub id: TaskLeadId,
    /// Lead id.
    pub lead_id: LeadId,
    /// Customer name.
    pub customer_name: String,
    /// Full phone (masked at the edge).
    pub phone: String,
    /// Status.
    pub call_status: CallStatus,
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
#[derive(Debug, Clone, PartialEq, Default)]
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

impl TaskStatistics {
    /// connected / called (0 when nothing was called).
    pub fn connect_rate(&self) -> f64 {
        if self.called > 0 {
            self.connected as f64 / self.called as f64
        } else {
            0.0
        }
    }

    /// Finished leads in percent of all, one decimal.
    pub fn progress(&self) -> f64 {
        if self.leads_total > 0 {
            (self.finished as f64 * 100.0 / self.leads_total as f64 * 10.0).round() / 10.0
        } else {
            0.0
        }
    }
}

/// One maintained counter of a task's leads: how many have this status, intent level and job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadCount {
    /// Call status (wire name).
    pub call_status: String,
    /// Intent level ("" when none).
    pub intent_level: String,
    /// Whether these leads have a platform job.
    pub has_job: bool,
    /// Leads.
    pub n: i64,
    /// Sum of their call durations, seconds.
    pub duration_sum: i64,
    /// Leads with a duration.
    pub duration_n: i64,
}

impl TaskStatistics {
    /// The statistics of a task from its counters.
    pub fn tally(counts: impl IntoIterator<Item = LeadCount>) -> TaskStatistics {
        let mut s = TaskStatistics {
            by_call_status: CallStatus::tally([]),
            ..TaskStatistics::default()
        };
        let (mut dur_sum, mut dur_n) = (0i64, 0i64);
        for c in counts {
            s.leads_total += c.n;
            *s.by_call_status.entry(c.call_status.clone()).or_insert(0) += c.n;
            if c.has_job {
                s.dispatched += c.n;
            }
            if !c.intent_level.is_empty() {
                *s.by_intent_level.entry(c.intent_level).or_insert(0) += c.n;
            }
            if let Some(cs) = CallStatus::parse(&c.call_status) {
                if cs.is_called() {
                    s.called += c.n;
                }
                if cs == CallStatus::Connected {
                    s.connected += c.n;
                    dur_sum += c.duration_sum;
                    dur_n += c.duration_n;
                }
                if cs.is_final() {
                    s.finished += c.n;
                }
            }
        }
        s.avg_duration_seconds = if dur_n > 0 {
            (dur_sum as f64 / dur_n as f64 * 10.0).round() / 10.0
        } else {
            0.0
        };
        s
    }
}

/// Storage of task leads' results.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait ResultRepository: Send + Sync + 'static {
    /// Apply interpreted results to the task's leads; returns how many changed.
    async fn apply_results(&self, task: TaskId, results: Vec<LeadResult>)
    -> Result<u64, RepoError>;
    /// Recompute the task's called / connected counters from its leads.
    async fn refresh_counters(&self, task: TaskId) -> Result<(), RepoError>;
    /// How many leading jobs of the task's group (in the platform's listing order) were all
    /// final at its last sync.
    async fn synced_final_jobs(&self, task: TaskId) -> Result<u64, RepoError>;
    /// A sync applied the results of the task's first `final_jobs` jobs, all final (and maybe
    /// more): the synced prefix moves forward to it (never back), and when results `changed`
    /// the task's called / connected counters are recomputed in the same statement.
    async fn advance_sync(
        &self,
        task: TaskId,
        final_jobs: u64,
        changed: bool,
    ) -> Result<(), RepoError>;
    /// A task of `scope` and its lead counters (one round trip).
    async fn statistics(
        &self,
        scope: &OrgScope,
        task: TaskId,
    ) -> Result<Option<(CallTask, Vec<LeadCount>)>, RepoError>;
    /// A task of `scope` with its lead counters and a page of its leads with their results, in
    /// id order (optionally of one status), with the task's newest query execution run when
    /// `newest_run`: one wait for the database. `None` when the task is not one of `scope`'s.
    async fn view(
        &self,
        scope: &OrgScope,
        task: TaskId,
        status: Option<CallStatus>,
        page: PageRequest,
        newest_run: bool,
    ) -> Result<Option<StoredView>, RepoError>;
    /// Up to `limit` leads of task `task` (whose scope the caller checked) after `after`, in id
    /// order, of the `statuses` (none: all), with the leads' own fields, for an export.
    async fn export_page(
        &self,
        task: TaskId,
        statuses: &[CallStatus],
        after: Option<TaskLeadId>,
        limit: i64,
    ) -> Result<Vec<super::export::ExportRow>, RepoError>;
}

/// What [`ResultRepository::view`] reads.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredView {
    /// The task.
    pub task: CallTask,
    /// Its lead counters.
    pub counts: Vec<LeadCount>,
    /// The asked page of its rows.
    pub rows: Vec<ExecutionRow>,
    /// Its newest query execution run, when asked for and there is one.
    pub newest_run: Option<Run>,
}

/// Pulls and reads results.
#[derive(Clone)]
pub struct Results {
    repo: Arc<dyn ResultRepository>,
    tasks: Arc<dyn TaskRepository>,
    platform: Arc<dyn OutboundPlatform>,
    page_size: u32,
}

impl Results {
    /// Wire the service; `page_size` is the platform page read at a time (<= 100).
    pub fn new(
        repo: Arc<dyn ResultRepository>,
        tasks: Arc<dyn TaskRepository>,
        platform: Arc<dyn OutboundPlatform>,
        page_size: u32,
    ) -> Self {
        Self {
            repo,
            tasks,
            platform,
            page_size,
        }
    }

    /// Pull the job results of a task's group that can have changed, and apply them. Returns
    /// (results pulled, leads changed).
    ///
    /// A final job never changes again, and the platform lists a group's jobs in the order they
    /// were created, new ones at the end: pages before the one that holds the first job that
    /// was not final at the last sync are not read again.
    ///
    /// A worker syncing under a lease passes it: every bulk of results is written only while the
    /// lease holds (see [`HeldLease`]).
    pub async fn sync_task(
        &self,
        task: TaskId,
        group: &str,
        lease: Option<&HeldLease>,
    ) -> Result<(u64, u64), ExecError> {
        let page_size = self.page_size.max(1);
        let known_final = self.repo.synced_final_jobs(task).await?;
        let first_page =
            u32::try_from(known_final / u64::from(page_size)).unwrap_or(u32::MAX - 1) + 1;
        // reading pages and writing results overlap: the next pages are fetched while the
        // database applies the previous ones; each page goes with the final prefix after it
        let (mut tx, rx) = futures::channel::mpsc::channel::<(Vec<LeadResult>, u64)>(16);
        let fetch = async move {
            let mut pulled = 0u64;
            let mut page = first_page;
            let mut final_prefix = u64::from(first_page - 1) * u64::from(page_size);
            let mut in_prefix = true;
            loop {
                // a big group takes many requests to read: the lease is kept alive meanwhile,
                // so that another worker does not take the task half way
                if let Some(lease) = lease {
                    lease.keep().await?;
                }
                let p = self
                    .platform
                    .query_job_results(group, page, page_size)
                    .await?;
                pulled += p.items.len() as u64;
                for job in &p.items {
                    in_prefix = in_prefix && job.job_status.is_final();
                    final_prefix += u64::from(in_prefix);
                }
                let results: Vec<LeadResult> = p.items.iter().filter_map(interpret).collect();
                if futures::SinkExt::send(&mut tx, (results, final_prefix))
                    .await
                    .is_err()
                {
                    break; // the writer failed; its error is reported
                }
                if p.is_last(page) {
                    break;
                }
                page += 1;
            }
            Ok::<u64, ExecError>(pulled)
        };
        let write = async {
            use futures::StreamExt;
            // the pages that are ready, up to SYNC_WRITE_ROWS rows, in one bulk; two bulks are
            // written at a time (they touch different rows)
            let pages_per_bulk = (SYNC_WRITE_ROWS / page_size as usize).max(1);
            let mut bulks = rx
                .ready_chunks(pages_per_bulk)
                .map(|pages| async move {
                    let prefix = pages.last().map_or(0, |p| p.1);
                    let bulk: Vec<LeadResult> = pages.into_iter().flat_map(|p| p.0).collect();
                    if bulk.is_empty() {
                        return Ok((0, prefix));
                    }
                    if let Some(lease) = lease {
                        lease.keep().await?;
                    }
                    Ok::<(u64, u64), ExecError>((
                        self.repo.apply_results(task, bulk).await?,
                        prefix,
                    ))
                })
                .buffered(SYNC_WRITERS);
            // what a sync has applied is recorded as it goes, in page order: one that fails half
            // way (a fault, a kill) does not read those pages again
            let (mut changed, mut recorded) = (0u64, known_final);
            while let Some(bulk) = bulks.next().await {
                let (n, prefix) = bulk?;
                changed += n;
                if n > 0 || prefix > recorded {
                    if let Some(lease) = lease {
                        lease.keep().await?;
                    }
                    recorded = recorded.max(prefix);
                    self.repo.advance_sync(task, recorded, n > 0).await?;
                }
            }
            Ok::<u64, ExecError>(changed)
        };
        let (pulled, changed) = futures::join!(fetch, write);
        Ok((pulled?, changed?))
    }

    /// A task and its statistics.
    pub async fn statistics(
        &self,
        scope: &OrgScope,
        id: TaskId,
    ) -> Result<(CallTask, TaskStatistics), ExecError> {
        let (task, counts) = self
            .repo
            .statistics(scope, id)
            .await?
            .ok_or(ExecError::NotFound(Entity::Task))?;
        Ok((task, TaskStatistics::tally(counts)))
    }

    /// A task, its statistics and a page of its rows, optionally of one call status (its wire
    /// name); with `refresh` the latest results are pulled from the platform first. One wait for
    /// the database: the task with its counters and the rows (their total is the counters').
    pub async fn view(
        &self,
        scope: &OrgScope,
        id: TaskId,
        status: Option<&str>,
        page: PageRequest,
        refresh: bool,
    ) -> Result<TaskView, ExecError> {
        Ok(self.read(scope, id, status, page, refresh, false).await?.0)
    }

    /// [`Results::view`] and the task's newest query execution run (what its detail shows),
    /// still in one wait for the database.
    pub async fn detail(
        &self,
        scope: &OrgScope,
        id: TaskId,
        status: Option<&str>,
        page: PageRequest,
        refresh: bool,
    ) -> Result<(TaskView, Option<Run>), ExecError> {
        self.read(scope, id, status, page, refresh, true).await
    }

    async fn read(
        &self,
        scope: &OrgScope,
        id: TaskId,
        status: Option<&str>,
        page: PageRequest,
        refresh: bool,
        newest_run: bool,
    ) -> Result<(TaskView, Option<Run>), ExecError> {
        let status = match status {
            None => None,
            Some(s) => Some(
                CallStatus::parse(s).ok_or_else(|| ExecError::UnknownCallStatus(s.to_owned()))?,
            ),
        };
        if refresh {
            let task = self
                .tasks
                .get(scope, id)
                .await?
                .ok_or(ExecError::NotFound(Entity::Task))?;
            if let Some(group) = &task.job_group_id {
                self.sync_task(id, group, None).await?;
            }
        }
        let stored = self
            .repo
            .view(scope, id, status, page, newest_run)
            .await?
            .ok_or(ExecError::NotFound(Entity::Task))?;
        let statistics = TaskStatistics::tally(stored.counts);
        let total = match status {
            Some(s) => statistics
                .by_call_status
                .get(s.as_str())
                .copied()
                .unwrap_or(0),
            None => statistics.leads_total,
        };
        let view = TaskView {
            task: stored.task,
            statistics,
            rows: Page::new(stored.rows, page, total),
        };
        Ok((view, stored.newest_run))
    }

    /// Start exporting task `id` of `scope` (see [`super::export`]).
    pub async fn export(
        &self,
        scope: &OrgScope,
        id: TaskId,
        statuses: &[&str],
        unmasked: bool,
    ) -> Result<super::export::Export, ExecError> {
        super::export::start(
            self.repo.clone(),
            self.tasks.as_ref(),
            scope,
            id,
            statuses,
            unmasked,
        )
        .await
    }

    pub async fn executions(
        &self,
        scope: &OrgScope,
        id: TaskId,
        status: Option<&str>,
        page: PageRequest,
        refresh: bool,
    ) -> Result<Executions, ExecError> {
        let v = self.view(scope, id, status, page, refresh).await?;
        Ok((v.rows, v.statistics.by_call_status))
    }
}

/// What a task's page shows: the task, its statistics, a page of its rows.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskView {
    /// The task.
    pub task: CallTask,
    /// Its statistics.
    pub statistics: TaskStatistics,
    /// A page of its leads with their results.
    pub rows: Page<ExecutionRow>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_tally_every_status_and_connected_durations_only() {
        let count = |status: &str, level: &str, has_job: bool, n: i64, d: i64| LeadCount {
            call_status: status.into(),
            intent_level: level.into(),
            has_job,
            n,
            duration_sum: d,
            duration_n: if d > 0 { n } else { 0 },
        };
        let s = TaskStatistics::tally([
            count("pending", "", false, 5, 0),
            count("connected", "A", true, 2, 61),
            count("connected", "", true, 1, 30),
            count("no_answer", "", true, 3, 0),
            count("dispatched", "", true, 4, 0),
        ]);
        assert_eq!(
            (
                s.leads_total,
                s.dispatched,
                s.called,
                s.connected,
                s.finished
            ),
            (15, 10, 6, 3, 6)
        );
        assert_eq!(s.avg_duration_seconds, 30.3);
        assert_eq!(s.by_call_status.len(), CallStatus::ALL.len());
        assert_eq!(s.by_call_status["busy"], 0);
        assert_eq!(s.by_intent_level.get("A"), Some(&2));
    }

    #[test]
    fn rate_and_progress_are_zero_for_an_empty_task() {
        let s = TaskStatistics::default();
        assert_eq!((s.connect_rate(), s.progress()), (0.0, 0.0));
        let s = TaskStatistics {
            leads_total: 3,
            finished: 1,
            called: 4,
            connected: 1,
            ..Default::default()
        };
        assert_eq!((s.connect_rate(), s.progress()), (0.25, 33.3));
    }
}
