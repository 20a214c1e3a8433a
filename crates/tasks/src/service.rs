//! Task use cases: create from a filter, list, statistics, scripts, scenes.

use std::sync::Arc;

use audit::{Action, Entry, Target};
use chrono_tz::Tz;
use kernel::{
    Caller, Entity, Invalid, OrgScope, Page, PageRequest, RepoError, SceneId, TaskId, UserId,
};
use leads::{LeadError, LeadFilterInput, LeadService};

use crate::{
    CallTask, CreatedTask, NewScene, NewTask, Scene, TaskListFilter, TaskRepository, TaskState,
    TaskStats, TransitionError,
};

/// Why a task operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// Malformed or out-of-range input (400).
    #[error(transparent)]
    Invalid(Invalid),
    /// Unknown task, scene or organisation, or one of another tenant (404).
    #[error("{0:?} not found")]
    NotFound(Entity),
    /// No lead matches the filter (422); nothing was created.
    #[error("no lead matches the filter")]
    NoMatchingLeads,
    /// The task's state does not allow this (409).
    #[error("task is in state {0:?}")]
    InvalidState(TaskState),
    /// Storage failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl From<LeadError> for TaskError {
    fn from(e: LeadError) -> Self {
        match e {
            LeadError::Invalid(m) => TaskError::Invalid(m),
            LeadError::OrgNotFound => TaskError::NotFound(Entity::Organisation),
            LeadError::Repo(r) => TaskError::Repo(r),
        }
    }
}

impl From<TransitionError> for TaskError {
    fn from(e: TransitionError) -> Self {
        match e {
            TransitionError::NotFound => TaskError::NotFound(Entity::Task),
            TransitionError::InvalidState(s) => TaskError::InvalidState(s),
            TransitionError::Repo(r) => TaskError::Repo(r),
        }
    }
}

/// `POST /api/create-autoCall-tasks` in domain terms.
#[derive(Debug, Clone, Default)]
pub struct CreateTaskRequest {
    /// 1..=100 characters.
    pub task_name: String,
    /// Script ("" = none yet, or the scene's).
    pub script_id: String,
    /// Summary; generated from the filter when absent.
    pub size_desc: Option<String>,
    /// Filter; the scene's when absent.
    pub filters: Option<LeadFilterInput>,
    /// Scene to take the filter and script from.
    pub scene_id: Option<SceneId>,
}

/// Task use cases.
#[derive(Clone)]
pub struct TaskService {
    repo: Arc<dyn TaskRepository>,
    leads: LeadService,
    tz: Tz,
}

fn check_len(field: &'static str, v: &str, min: usize, max: usize) -> Result<(), TaskError> {
    let n = v.chars().count();
    if n < min || n > max {
        return Err(TaskError::Invalid(Invalid::Length { field, min, max }));
    }
    Ok(())
}

impl TaskService {
    /// Wire the service.
    pub fn new(repo: Arc<dyn TaskRepository>, leads: LeadService, tz: Tz) -> Self {
        Self { repo, leads, tz }
    }

    /// Create a task from a filter (or a scene). 422 when nothing matches; nothing is created then.
    pub async fn create(
        &self,
        caller: &Caller,
        req: CreateTaskRequest,
    ) -> Result<CreatedTask, TaskError> {
        let scope = &caller.scope;
        let task_name = req.task_name.trim().to_owned();
        check_len("task_name", &task_name, 1, 100)?;
        let script_id = req.script_id.trim().to_owned();
        check_len("script_id", &script_id, 0, 128)?;
        let scene = match req.scene_id {
            Some(id) => Some(
                self.repo
                    .get_scene(scope, id)
                    .await?
                    .ok_or(TaskError::NotFound(Entity::Scene))?,
            ),
            None => None,
        };
        let input = req
            .filters
            .or_else(|| scene.as_ref().map(|s| s.filters.clone()))
            .unwrap_or_default();
        let script_id = match (&scene, script_id.is_empty()) {
            (Some(s), true) => s.script_id.clone(),
            _ => script_id,
        };
        let org_id = scope.root();
        let (scope, filter) = self.leads.resolve_filter(scope, &input)?;
        let size_desc = match req
            .size_desc
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
        {
            Some(s) => {
                check_len("size_desc", &s, 0, 500)?;
                s
            }
            None => filter.describe(self.tz),
        };
        let task = NewTask {
            org_id,
            task_name,
            script_id,
            size_desc,
            filters: filter.input.clone(),
            created_by: caller.user_id,
        };
        let audit = Entry::by(caller, Action::TaskCreate)
            .detail("task_name", task.task_name.as_str())
            .detail("script_id", task.script_id.as_str());
        self.repo
            .create_from_filter(&scope, &filter, task, audit)
            .await?
            .ok_or(TaskError::NoMatchingLeads)
    }

    /// One task.
    pub async fn get(&self, scope: &OrgScope, id: TaskId) -> Result<CallTask, TaskError> {
        self.repo
            .get(scope, id)
            .await?
            .ok_or(TaskError::NotFound(Entity::Task))
    }

    /// A page of tasks, newest first. A blank keyword is no keyword.
    pub async fn list(
        &self,
        scope: &OrgScope,
        filter: TaskListFilter,
        page: PageRequest,
    ) -> Result<Page<CallTask>, TaskError> {
        let filter = Self::list_filter(filter)?;
        Ok(self.repo.list(scope, &filter, page).await?)
    }

    /// The counts over the scope's tasks beside a page of them (what an overview shows).
    pub async fn overview(
        &self,
        scope: &OrgScope,
        filter: TaskListFilter,
        page: PageRequest,
    ) -> Result<(TaskStats, Page<CallTask>), TaskError> {
        let filter = Self::list_filter(filter)?;
        Ok(self.repo.overview(scope, &filter, page).await?)
    }

    /// The filter with its keyword trimmed (none when blank) and checked.
    fn list_filter(filter: TaskListFilter) -> Result<TaskListFilter, TaskError> {
        let keyword = filter
            .keyword
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty());
        if let Some(k) = &keyword {
            check_len("keyword", k, 0, 100)?;
        }
        Ok(TaskListFilter { keyword, ..filter })
    }

    /// The newest 200 tasks.
    pub async fn recent(&self, scope: &OrgScope) -> Result<Vec<CallTask>, TaskError> {
        Ok(self.repo.recent(scope, 200).await?)
    }

    /// Counts over the scope's tasks.
    pub async fn stats(&self, scope: &OrgScope) -> Result<TaskStats, TaskError> {
        Ok(self.repo.stats(scope).await?)
    }

    /// Set a task's script (state 1 only).
    pub async fn update_script(
        &self,
        caller: &Caller,
        id: TaskId,
        script_id: &str,
    ) -> Result<CallTask, TaskError> {
        let script_id = script_id.trim();
        check_len("script_id", script_id, 1, 128)?;
        let audit = Entry::by(caller, Action::TaskScript)
            .on(Target::Task(id))
            .detail("script_id", script_id);
        Ok(self
            .repo
            .update_script(&caller.scope, id, script_id, audit)
            .await?)
    }

    /// Save a scene (its filter is validated, and must stay within the scope).
    pub async fn create_scene(
        &self,
        scope: &OrgScope,
        user: UserId,
        scene: NewScene,
    ) -> Result<Scene, TaskError> {
        let scene = NewScene {
            scene_name: scene.scene_name.trim().to_owned(),
            script_id: scene.script_id.trim().to_owned(),
            description: scene.description.trim().to_owned(),
            filters: scene.filters,
        };
        check_len("scene_name", &scene.scene_name, 1, 100)?;
        check_len("script_id", &scene.script_id, 1, 128)?;
        check_len("description", &scene.description, 0, 500)?;
        let (_, filter) = self.leads.resolve_filter(scope, &scene.filters)?;
        let scene = NewScene {
            filters: filter.input,
            ..scene
        };
        Ok(self.repo.create_scene(scope, scene, user).await?)
    }

    /// The scope's scenes.
    pub async fn list_scenes(&self, scope: &OrgScope) -> Result<Vec<Scene>, TaskError> {
        Ok(self.repo.list_scenes(scope).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MockTaskRepository;
    use kernel::OrgId;
    use leads::MockLeadRepository;

    fn caller(scope: OrgScope) -> Caller {
        Caller {
            user_id: UserId(1),
            username: "ada".into(),
            org_id: scope.root(),
            role: kernel::Role::Operator,
            scope,
            origin: kernel::Origin::default(),
        }
    }

    fn svc(repo: MockTaskRepository) -> TaskService {
        let tz = chrono_tz::Asia::Shanghai;
        TaskService::new(
            Arc::new(repo),
            LeadService::new(Arc::new(MockLeadRepository::new()), tz),
            tz,
        )
    }

    #[tokio::test]
    async fn no_match_is_422_and_summary_is_generated() {
        let mut repo = MockTaskRepository::new();
        repo.expect_create_from_filter()
            .withf(|_, _, t, a| {
                t.size_desc == "意向级别: H"
                    && t.task_name == "双十一"
                    && a.action == Action::TaskCreate
                    && a.actor.name == "ada"
            })
            .times(1)
            .returning(|_, _, _, _| Ok(None));
        let req = CreateTaskRequest {
            task_name: " 双十一 ".into(),
            filters: Some(LeadFilterInput {
                levels: Some(vec!["H".into()]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let r = svc(repo)
            .create(&caller(OrgScope::new(OrgId(1), [])), req)
            .await;
        assert!(matches!(r, Err(TaskError::NoMatchingLeads)));
    }

    #[tokio::test]
    async fn bad_name_and_foreign_org_never_reach_storage() {
        let s = svc(MockTaskRepository::new());
        let r = s
            .create(
                &caller(OrgScope::new(OrgId(1), [])),
                CreateTaskRequest::default(),
            )
            .await;
        assert!(matches!(r, Err(TaskError::Invalid(_))));
        let req = CreateTaskRequest {
            task_name: "t".into(),
            filters: Some(LeadFilterInput {
                org_ids: Some(vec![OrgId(42)]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let r = s
            .create(&caller(OrgScope::new(OrgId(1), [OrgId(2)])), req)
            .await;
        assert!(matches!(r, Err(TaskError::NotFound(Entity::Organisation))));
    }

    #[tokio::test]
    async fn unknown_scene_is_404() {
        let mut repo = MockTaskRepository::new();
        repo.expect_get_scene().returning(|_, _| Ok(None));
        let req = CreateTaskRequest {
            task_name: "t".into(),
            scene_id: Some(kernel::SceneId(5)),
            ..Default::default()
        };
        let r = svc(repo)
            .create(&caller(OrgScope::new(OrgId(1), [])), req)
            .await;
        assert!(matches!(r, Err(TaskError::NotFound(Entity::Scene))));
    }

    #[tokio::test]
    async fn empty_script_is_refused() {
        let r = svc(MockTaskRepository::new())
            .update_script(&caller(OrgScope::new(OrgId(1), [])), TaskId(1), " ")
            .await;
        assert!(matches!(r, Err(TaskError::Invalid(_))));
    }
}
