//! # tasks
//!
//! Call tasks (`call_tasks`), their lead lists (`leads_task_list`), the task state machine, and
//! scenes (a saved script + filter).
//!
//! Owns:
//! - [`TaskState`] and its allowed transitions (1→2, 2→4, 4→2, 2→3, 1/2/4→5),
//! - creating a task from a [`leads::LeadFilter`] ([`TaskService::create`]): the filter is
//!   validated in the domain and the storage turns it into one `INSERT … SELECT DISTINCT ON
//!   (phone)` so leads never pass through the process,
//! - task listing, statistics, script updates, scenes.
//!
//! Port: [`TaskRepository`]; every method takes the caller's [`kernel::OrgScope`], so a task of
//! another organisation is simply not found.

pub mod call_status;
pub mod execution;
mod model;
pub mod platform;
mod service;

use async_trait::async_trait;
use kernel::{OrgScope, Page, PageRequest, RepoError, SceneId, TaskId, UserId};
use leads::LeadFilter;

pub use model::{CallTask, CreatedTask, NewScene, NewTask, Scene, TaskState, TaskStats};
pub use platform::{OutboundPlatform, PlatformError};
pub use service::{CreateTaskRequest, TaskError, TaskService};

/// Why a state change did not happen.
#[derive(Debug, thiserror::Error)]
pub enum TransitionError {
    /// No such task in scope.
    #[error("task not found")]
    NotFound,
    /// The task is in a state that does not allow it.
    #[error("task is in state {0:?}")]
    InvalidState(TaskState),
    /// Storage failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Task list filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskListFilter {
    /// Only tasks in this state.
    pub state: Option<TaskState>,
    /// Literal substring of the task name.
    pub keyword: Option<String>,
}

/// Storage of tasks and scenes.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait TaskRepository: Send + Sync + 'static {
    /// Create a task and its lead list from `filter` within `scope`, in one transaction.
    /// Returns `None` (and creates nothing) when no lead matches.
    /// `audit` is written in that transaction, about the new task.
    async fn create_from_filter(
        &self,
        scope: &OrgScope,
        filter: &LeadFilter,
        task: NewTask,
        audit: audit::Entry,
    ) -> Result<Option<CreatedTask>, RepoError>;
    /// One task.
    async fn get(&self, scope: &OrgScope, id: TaskId) -> Result<Option<CallTask>, RepoError>;
    /// A page of tasks, newest first.
    async fn list(
        &self,
        scope: &OrgScope,
        filter: &TaskListFilter,
        page: PageRequest,
    ) -> Result<Page<CallTask>, RepoError>;
    /// The newest `limit` tasks.
    async fn recent(&self, scope: &OrgScope, limit: i64) -> Result<Vec<CallTask>, RepoError>;
    /// Counts over the scope's tasks.
    async fn stats(&self, scope: &OrgScope) -> Result<TaskStats, RepoError>;
    /// [`TaskRepository::stats`] and [`TaskRepository::list`] together, in one wait for the
    /// database.
    async fn overview(
        &self,
        scope: &OrgScope,
        filter: &TaskListFilter,
        page: PageRequest,
    ) -> Result<(TaskStats, Page<CallTask>), RepoError>;
    /// Set the script of a task that is in state `created`, writing `audit` with it.
    async fn update_script(
        &self,
        scope: &OrgScope,
        id: TaskId,
        script_id: &str,
        audit: audit::Entry,
    ) -> Result<CallTask, TransitionError>;
    /// Save a scene in the scope's root organisation.
    async fn create_scene(
        &self,
        scope: &OrgScope,
        scene: NewScene,
        created_by: UserId,
    ) -> Result<Scene, RepoError>;
    /// One scene.
    async fn get_scene(&self, scope: &OrgScope, id: SceneId) -> Result<Option<Scene>, RepoError>;
    /// The scope's scenes, newest first.
    async fn list_scenes(&self, scope: &OrgScope) -> Result<Vec<Scene>, RepoError>;
}
