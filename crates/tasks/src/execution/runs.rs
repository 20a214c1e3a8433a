//! Query execution runs: a background pull of every result of a task from the platform, with
//! its progress saved after every page so that a run survives restarts and moves between
//! instances (a leased row of `query_execution_runs`).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kernel::{Entity, OrgScope, RepoError, RunId, TaskId};

use super::{Background, ExecError, ExecutionSettings, LifecycleRepository, ResultRepository};
use crate::call_status::{LeadResult, interpret};
use crate::platform::{OutboundPlatform, PlatformError};

/// Status of a query execution run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Waiting for a worker.
    Pending,
    /// Being worked.
    Running,
    /// Done.
    Succeeded,
    /// Gave up; see `error`.
    Failed,
}

impl RunStatus {
    /// Every status.
    pub const ALL: [RunStatus; 4] = [
        RunStatus::Pending,
        RunStatus::Running,
        RunStatus::Succeeded,
        RunStatus::Failed,
    ];

    /// Stored / wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Pending => "pending",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
        }
    }

    /// From the stored name.
    pub fn parse(s: &str) -> Option<RunStatus> {
        RunStatus::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether the run will not change any more.
    pub fn is_finished(self) -> bool {
        matches!(self, RunStatus::Succeeded | RunStatus::Failed)
    }
}

/// A query execution run.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Run id.
    pub id: RunId,
    /// Task.
    pub task_id: TaskId,
    /// Where it is.
    pub status: RunStatus,
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
    /// Why it failed (for people).
    pub error: Option<String>,
}

impl Run {
    /// Pulled results in percent of the task's leads, one decimal; 100 once succeeded.
    pub fn progress(&self) -> f64 {
        if self.status == RunStatus::Succeeded {
            return 100.0;
        }
        if self.total > 0 {
            (((self.processed as f64 * 100.0 / self.total as f64) * 10.0).round() / 10.0).min(100.0)
        } else {
            0.0
        }
    }
}

/// Storage of runs.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait RunRepository: Send + Sync + 'static {
    /// Create a run for a task of `scope`, or return its unfinished one.
    async fn create_run(&self, scope: &OrgScope, task: TaskId) -> Result<Option<Run>, RepoError>;
    /// A run of a task of `scope`.
    async fn get_run(&self, scope: &OrgScope, run: RunId) -> Result<Option<Run>, RepoError>;
    /// Lease one unfinished run (free or expired lease); marks it running.
    async fn lease_run(&self, worker: &str, lease_secs: i64) -> Result<Option<Run>, RepoError>;
    /// Persist a run's progress and extend its lease; false when the lease was lost.
    async fn save_run_progress(
        &self,
        run: RunId,
        worker: &str,
        processed: i64,
        next_page: i32,
        lease_secs: i64,
    ) -> Result<bool, RepoError>;
    /// Finish a run.
    async fn finish_run(
        &self,
        run: RunId,
        worker: &str,
        ok: bool,
        error: Option<String>,
    ) -> Result<(), RepoError>;
}

/// Query execution runs.
#[derive(Clone)]
pub struct Runs {
    repo: Arc<dyn RunRepository>,
    tasks: Arc<dyn LifecycleRepository>,
    results: Arc<dyn ResultRepository>,
    platform: Arc<dyn OutboundPlatform>,
    background: Arc<dyn Background>,
    settings: ExecutionSettings,
}

impl Runs {
    /// Wire the service.
    pub fn new(
        repo: Arc<dyn RunRepository>,
        tasks: Arc<dyn LifecycleRepository>,
        results: Arc<dyn ResultRepository>,
        platform: Arc<dyn OutboundPlatform>,
        background: Arc<dyn Background>,
        settings: ExecutionSettings,
    ) -> Self {
        Self {
            repo,
            tasks,
            results,
            platform,
            background,
            settings,
        }
    }

    /// Start a run (or return the task's unfinished one); the run worker is told.
    pub async fn start(&self, scope: &OrgScope, task: TaskId) -> Result<Run, ExecError> {
        let run = self
            .repo
            .create_run(scope, task)
            .await?
            .ok_or(ExecError::NotFound(Entity::Task))?;
        self.background.run_waiting();
        Ok(run)
    }

    /// A run.
    pub async fn get(&self, scope: &OrgScope, run: RunId) -> Result<Run, ExecError> {
        self.repo
            .get_run(scope, run)
            .await?
            .ok_or(ExecError::NotFound(Entity::Run))
    }

    /// Work one leased run to its end (or until its lease is lost). `Ok(false)` when no run
    /// waits.
    pub async fn turn(&self) -> Result<bool, ExecError> {
        let s = &self.settings;
        let Some(run) = self.repo.lease_run(&s.worker_id, s.lease_secs).await? else {
            return Ok(false);
        };
        let group = match self.tasks.task_group(run.task_id).await? {
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
                // keep progress; the lease expires and the run resumes later
                Err(e) => return Err(e.into()),
            };
            let results: Vec<LeadResult> = p.items.iter().filter_map(interpret).collect();
            if !results.is_empty() {
                self.results.apply_results(run.task_id, results).await?;
            }
            processed += p.items.len() as i64;
            let last = p.is_last(page);
            page += 1;
            let next_page = i32::try_from(page).unwrap_or(i32::MAX);
            if !self
                .repo
                .save_run_progress(run.id, &s.worker_id, processed, next_page, s.lease_secs)
                .await?
            {
                return Ok(true); // someone else owns it now
            }
            if last {
                self.results.refresh_counters(run.task_id).await?;
                self.repo
                    .finish_run(run.id, &s.worker_id, true, None)
                    .await?;
                return Ok(true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(status: RunStatus, total: i64, processed: i64) -> Run {
        Run {
            id: RunId(1),
            task_id: TaskId(1),
            status,
            total,
            processed,
            next_page: 1,
            started_at: None,
            finished_at: None,
            error: None,
        }
    }

    #[test]
    fn progress_is_capped_and_complete_once_succeeded() {
        assert_eq!(run(RunStatus::Running, 3, 1).progress(), 33.3);
        assert_eq!(run(RunStatus::Running, 3, 5).progress(), 100.0);
        assert_eq!(run(RunStatus::Pending, 0, 0).progress(), 0.0);
        assert_eq!(run(RunStatus::Succeeded, 0, 0).progress(), 100.0);
        assert_eq!(RunStatus::parse("failed"), Some(RunStatus::Failed));
        assert_eq!(RunStatus::parse("done"), None);
    }
}
