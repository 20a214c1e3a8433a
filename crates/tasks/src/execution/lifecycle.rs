//! A task's life on the platform: start (1→2, creating its job group), suspend (2→4), resume
//! (4→2), stop (1/2/4→5). Each change is made locally first and undone if the platform refuses,
//! so nothing is left half-done.

use std::sync::Arc;

use async_trait::async_trait;
use audit::{Action, Entry, Target};
use chrono::{DateTime, Utc};
use kernel::{Caller, Entity, OrgScope, RepoError, TaskId};

use super::{Background, ExecError, ResultRepository};
use crate::platform::{OutboundPlatform, PlatformError, Strategy};
use crate::{CallTask, TaskRepository, TaskState, TransitionError};

/// Storage of task states and job groups.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait LifecycleRepository: Send + Sync + 'static {
    /// Move a task of `scope` from one of `from` to `to` atomically, writing `audit` (whose
    /// actor is who acted) in the same transaction.
    async fn transition(
        &self,
        scope: &OrgScope,
        id: TaskId,
        from: Vec<TaskState>,
        to: TaskState,
        audit: Entry,
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
    /// Tasks stuck in `running` without a job group since before `older_than` go back to
    /// `created` (the process died between the two steps of a start).
    async fn undo_stale_starts(&self, older_than: DateTime<Utc>) -> Result<u64, RepoError>;
    /// Turn the task's unfinished leads into `cancelled`.
    async fn cancel_open_leads(&self, id: TaskId) -> Result<u64, RepoError>;
    /// Move a running task whose leads are all final to `completed`.
    async fn complete_if_done(&self, task: TaskId) -> Result<bool, RepoError>;
    /// State and job group of a task (internal; no scope).
    async fn task_group(
        &self,
        task: TaskId,
    ) -> Result<Option<(TaskState, Option<String>)>, RepoError>;
}

/// Result of a start.
#[derive(Debug, Clone, PartialEq)]
pub struct Started {
    /// Task id.
    pub task_id: TaskId,
    /// Job group created.
    pub job_group_id: String,
    /// Leads that will be dispatched.
    pub leads_total: i64,
}

/// Start, suspend, resume and stop.
#[derive(Clone)]
pub struct Lifecycle {
    repo: Arc<dyn LifecycleRepository>,
    results: Arc<dyn ResultRepository>,
    tasks: Arc<dyn TaskRepository>,
    platform: Arc<dyn OutboundPlatform>,
    background: Arc<dyn Background>,
    strategy: Strategy,
}

impl Lifecycle {
    /// Wire the service.
    pub fn new(
        repo: Arc<dyn LifecycleRepository>,
        results: Arc<dyn ResultRepository>,
        tasks: Arc<dyn TaskRepository>,
        platform: Arc<dyn OutboundPlatform>,
        background: Arc<dyn Background>,
        strategy: Strategy,
    ) -> Self {
        Self {
            repo,
            results,
            tasks,
            platform,
            background,
            strategy,
        }
    }

    async fn task(&self, scope: &OrgScope, id: TaskId) -> Result<CallTask, ExecError> {
        self.tasks
            .get(scope, id)
            .await?
            .ok_or(ExecError::NotFound(Entity::Task))
    }

    /// Start a task: 1→2 atomically, then create the job group. If the platform fails the task
    /// goes back to 1 and the error is returned; nothing is half-done. The dispatcher is told.
    pub async fn start(&self, caller: &Caller, id: TaskId) -> Result<Started, ExecError> {
        let scope = &caller.scope;
        let task = self.task(scope, id).await?;
        if task.state != TaskState::Created {
            return Err(ExecError::NotStartable(task.state));
        }
        if task.script_id.trim().is_empty() {
            return Err(ExecError::ScriptNotSet);
        }
        let task = match self
            .repo
            .transition(
                scope,
                id,
                vec![TaskState::Created],
                TaskState::Running,
                Entry::by(caller, Action::TaskStart).on(Target::Task(id)),
            )
            .await
        {
            Ok(t) => t,
            Err(TransitionError::InvalidState(s)) => return Err(ExecError::NotStartable(s)),
            Err(e) => return Err(e.into()),
        };
        let name = format!("{}-{}", task.task_name, task.id);
        match self
            .platform
            .create_job_group(&name, &task.script_id, &self.strategy)
            .await
        {
            Ok(group) => {
                self.repo.set_job_group(id, &group).await?;
                self.background.dispatch_waiting();
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

    /// Change the state locally, then on the platform; undo the local change if the platform
    /// refuses.
    async fn platform_transition<F, Fut>(
        &self,
        caller: &Caller,
        (id, action): (TaskId, Action),
        from: Vec<TaskState>,
        to: TaskState,
        call: F,
    ) -> Result<CallTask, ExecError>
    where
        F: FnOnce(Arc<dyn OutboundPlatform>, String) -> Fut,
        Fut: std::future::Future<Output = Result<(), PlatformError>>,
    {
        let scope = &caller.scope;
        let before = self.task(scope, id).await?;
        let task = self
            .repo
            .transition(
                scope,
                id,
                from,
                to,
                Entry::by(caller, action).on(Target::Task(id)),
            )
            .await?;
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
    pub async fn suspend(&self, caller: &Caller, id: TaskId) -> Result<CallTask, ExecError> {
        self.platform_transition(
            caller,
            (id, Action::TaskSuspend),
            vec![TaskState::Running],
            TaskState::Paused,
            |p, g| async move { p.suspend_jobs(&g).await },
        )
        .await
    }

    /// Resume a paused task (4→2); the dispatcher is told.
    pub async fn resume(&self, caller: &Caller, id: TaskId) -> Result<CallTask, ExecError> {
        let task = self
            .platform_transition(
                caller,
                (id, Action::TaskResume),
                vec![TaskState::Paused],
                TaskState::Running,
                |p, g| async move { p.resume_jobs(&g).await },
            )
            .await?;
        self.background.dispatch_waiting();
        Ok(task)
    }

    /// Stop a task (1/2/4→5): cancel its jobs, turn its unfinished leads into `cancelled`.
    pub async fn stop(&self, caller: &Caller, id: TaskId) -> Result<CallTask, ExecError> {
        let from = TaskState::sources_of(TaskState::Stopped);
        let task = self
            .platform_transition(
                caller,
                (id, Action::TaskStop),
                from,
                TaskState::Stopped,
                |p, g| async move { p.cancel_jobs(&g).await },
            )
            .await?;
        self.repo.cancel_open_leads(id).await?;
        self.results.refresh_counters(id).await?;
        Ok(self.tasks.get(&caller.scope, id).await?.unwrap_or(task))
    }
}
