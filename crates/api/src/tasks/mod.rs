//! Call tasks: create, list, statistics, script, scenes.

pub mod dto;

use actix_web::{HttpResponse, web};
use audit::{Action, Target};
use kernel::{PageRequest, SceneId, TaskId};
use tasks::{CreateTaskRequest, NewScene, TaskListFilter, TaskState};

use crate::audit::record::refusal;
use crate::envelope::{Envelope, Items, Paged, ok};
use crate::error::ApiError;
use crate::extract::{Auth, Json, NoQuery, Query};
use crate::responses::{
    BadRequest, DatabaseUnavailable, InvalidTaskState, NoMatchingLeads, NotFound,
    PasswordChangeRequired, PayloadTooLarge, Unauthorized,
};
use crate::state::ApiState;
use dto::{
    CreateBody, CreatedTaskDto, SceneBody, SceneDto, TaskDto, TaskListQuery, TaskStatsDto,
    UpdateScriptBody,
};

/// Create a call task from a lead filter.
///
/// Leads are deduplicated by phone; `do_not_call` leads and (by default) leads whose phone is in
/// an unfinished task are left out. No matching lead: 422 and no task is created.
#[utoipa::path(
    post,
    path = "/api/create-autoCall-tasks",
    operation_id = "create_task",
    tag = "tasks",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "The task, in state 1 (created).", body = Envelope<CreatedTaskDto>,
            links(
                ("StartTask" = (operation_id = "start_task", request_body = json!({"task_id": "$response.body#/data/task_id"}), description = "The task just answered.")),
                ("SuspendResumeTask" = (operation_id = "suspend_resume_task", request_body = json!({"task_id": "$response.body#/data/task_id"}), description = "The task just answered.")),
                ("StopTask" = (operation_id = "stop_task", request_body = json!({"task_id": "$response.body#/data/task_id"}), description = "The task just answered.")),
                ("UpdateScript" = (operation_id = "update_script", request_body = json!({"task_id": "$response.body#/data/task_id"}), description = "The task just answered.")),
                ("QueryTaskExecution" = (operation_id = "query_task_execution", request_body = json!({"task_id": "$response.body#/data/task_id"}), description = "The task just answered.")),
                ("StartQueryExecutionRun" = (operation_id = "start_query_execution_run", request_body = json!({"task_id": "$response.body#/data/task_id"}), description = "The task just answered.")),
                ("LeadsFollow" = (operation_id = "leads_follow", parameters(("task_id" = "$response.body#/data/task_id")), description = "The task just answered.")),
                ("TaskStatistics" = (operation_id = "task_statistics", parameters(("task_id" = "$response.body#/data/task_id")), description = "The task just answered."))
            )),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = PasswordChangeRequired),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = NoMatchingLeads),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn create(
    state: web::Data<ApiState>,
    auth: Auth,
    body: Json<CreateBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let req = CreateTaskRequest {
        task_name: b.task_name,
        script_id: b.script_id,
        size_desc: b.size_desc,
        filters: b.filters,
        scene_id: b.scene_id.map(SceneId),
    };
    let created = state
        .tasks
        .create(&auth.caller, req)
        .await
        .map_err(ApiError::from);
    let created = refusal(&state, &auth.caller, (Action::TaskCreate, None), created).await?;
    Ok(ok(
        "创建外呼任务成功",
        CreatedTaskDto::new(created, state.tz),
    ))
}

/// List call tasks (paged, newest first).
#[utoipa::path(
    get,
    path = "/api/task_list",
    params(TaskListQuery),
    operation_id = "task_list",
    tag = "tasks",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "A page of tasks.", body = Envelope<Paged<TaskDto>>,
            links(
                ("StartTask" = (operation_id = "start_task", request_body = json!({"task_id": "$response.body#/data/items/0/id"}), description = "The newest task of the page.")),
                ("SuspendResumeTask" = (operation_id = "suspend_resume_task", request_body = json!({"task_id": "$response.body#/data/items/0/id"}), description = "The newest task of the page.")),
                ("StopTask" = (operation_id = "stop_task", request_body = json!({"task_id": "$response.body#/data/items/0/id"}), description = "The newest task of the page.")),
                ("UpdateScript" = (operation_id = "update_script", request_body = json!({"task_id": "$response.body#/data/items/0/id"}), description = "The newest task of the page.")),
                ("QueryTaskExecution" = (operation_id = "query_task_execution", request_body = json!({"task_id": "$response.body#/data/items/0/id"}), description = "The newest task of the page.")),
                ("StartQueryExecutionRun" = (operation_id = "start_query_execution_run", request_body = json!({"task_id": "$response.body#/data/items/0/id"}), description = "The newest task of the page.")),
                ("LeadsFollow" = (operation_id = "leads_follow", parameters(("task_id" = "$response.body#/data/items/0/id")), description = "The newest task of the page.")),
                ("TaskStatistics" = (operation_id = "task_statistics", parameters(("task_id" = "$response.body#/data/items/0/id")), description = "The newest task of the page."))
            )),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = PasswordChangeRequired),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn task_list(
    state: web::Data<ApiState>,
    auth: Auth,
    q: Query<TaskListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let page = PageRequest::new(q.page, q.page_size)?;
    let state_filter = match q.task_type {
        None => None,
        Some(code) => Some(
            TaskState::from_code(code)
                .ok_or_else(|| ApiError::bad_request("task_type 必须是 1 到 5"))?,
        ),
    };
    let filter = TaskListFilter {
        state: state_filter,
        keyword: q.keyword,
    };
    let page = state.tasks.list(&auth.caller.scope, filter, page).await?;
    let tz = state.tz;
    Ok(ok(
        "获取任务列表成功",
        Paged::of(page, |t| TaskDto::new(t, tz)),
    ))
}

/// The newest tasks (at most 200), unpaged, for older screens.
#[utoipa::path(
    get,
    path = "/api/tasks",
    operation_id = "recent_tasks",
    tag = "tasks",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "Tasks, newest first.", body = Envelope<Items<TaskDto>>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = PasswordChangeRequired),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn recent(
    state: web::Data<ApiState>,
    _: Query<NoQuery>,
    auth: Auth,
) -> Result<HttpResponse, ApiError> {
    let tasks = state.tasks.recent(&auth.caller.scope).await?;
    let tz = state.tz;
    Ok(ok(
        "获取任务列表成功",
        Items::of(tasks, |t| TaskDto::new(t, tz)),
    ))
}

/// Counts over the caller's tasks.
#[utoipa::path(
    get,
    path = "/api/task-stats",
    operation_id = "task_stats",
    tag = "tasks",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "Counts.", body = Envelope<TaskStatsDto>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = PasswordChangeRequired),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn stats(
    state: web::Data<ApiState>,
    _: Query<NoQuery>,
    auth: Auth,
) -> Result<HttpResponse, ApiError> {
    let stats = state.tasks.stats(&auth.caller.scope).await?;
    Ok(ok("获取任务统计成功", TaskStatsDto::from(stats)))
}

/// Set a task's script.
///
/// Only in state 1 (the platform fixes a job group's script when it creates it).
#[utoipa::path(
    post,
    path = "/api/update-script-id",
    operation_id = "update_script",
    tag = "tasks",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "The updated task.", body = Envelope<TaskDto>,
            links(
                ("StartTask" = (operation_id = "start_task", request_body = json!({"task_id": "$response.body#/data/id"}), description = "The task just answered.")),
                ("StopTask" = (operation_id = "stop_task", request_body = json!({"task_id": "$response.body#/data/id"}), description = "The task just answered."))
            )),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = PasswordChangeRequired),
        (status = 404, response = NotFound),
        (status = 409, response = InvalidTaskState),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn update_script(
    state: web::Data<ApiState>,
    auth: Auth,
    body: Json<UpdateScriptBody>,
) -> Result<HttpResponse, ApiError> {
    let id = TaskId(body.task_id);
    let t = state
        .tasks
        .update_script(&auth.caller, id, &body.script_id)
        .await
        .map_err(ApiError::from);
    let what = (Action::TaskScript, Some(Target::Task(id)));
    let t = refusal(&state, &auth.caller, what, t).await?;
    Ok(ok("更新脚本成功", TaskDto::new(t, state.tz)))
}

/// Save a scene: a script and a lead filter to create tasks from.
#[utoipa::path(
    post,
    path = "/api/create_scene",
    operation_id = "create_scene",
    tag = "tasks",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "The scene.", body = Envelope<SceneDto>,
            links(
                ("CreateTaskFromScene" = (operation_id = "create_task",
                    request_body = json!({"scene_id": "$response.body#/data/id"}),
                    description = "A task from the scene just saved."))
            )),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = PasswordChangeRequired),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn create_scene(
    state: web::Data<ApiState>,
    auth: Auth,
    body: Json<SceneBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let scene = NewScene {
        scene_name: b.scene_name,
        script_id: b.script_id,
        description: b.description.unwrap_or_default(),
        filters: b.filters.unwrap_or_default(),
    };
    let s = state
        .tasks
        .create_scene(&auth.caller.scope, auth.caller.user_id, scene)
        .await?;
    Ok(ok("创建场景成功", SceneDto::new(s, state.tz)))
}

/// The scenes of the caller's organisations.
#[utoipa::path(
    get,
    path = "/api/scenes",
    operation_id = "scenes",
    tag = "tasks",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "Scenes.", body = Envelope<Items<SceneDto>>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = PasswordChangeRequired),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn scenes(
    state: web::Data<ApiState>,
    _: Query<NoQuery>,
    auth: Auth,
) -> Result<HttpResponse, ApiError> {
    let scenes = state.tasks.list_scenes(&auth.caller.scope).await?;
    let tz = state.tz;
    Ok(ok(
        "获取场景列表成功",
        Items::of(scenes, |s| SceneDto::new(s, tz)),
    ))
}
