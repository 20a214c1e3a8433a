//! Call tasks: create, list, statistics, script, scenes.

use actix_web::{HttpResponse, web};
use kernel::{PageRequest, format_time};
use leads::LeadFilterInput;
use serde::Deserialize;
use serde_json::{Value, json};
use tasks::{CallTask, CreateTaskRequest, CreatedTask, NewScene, Scene, TaskListFilter, TaskState};

use crate::envelope::ok;
use crate::error::ApiError;
use crate::extract::{Auth, Json, Query};
use crate::openapi::{
    BadRequest, CreatedTaskDto, DatabaseUnavailable, Envelope, InvalidTaskState, Items,
    NoMatchingLeads, NotFound, Paged, PayloadTooLarge, SceneDto, TaskDto, TaskStatsDto,
    Unauthorized,
};
use crate::state::AppState;

/// The contract's `Task`.
pub fn task_json(t: CallTask, tz: chrono_tz::Tz) -> TaskDto {
    TaskDto {
        id: t.id,
        task_name: t.task_name,
        task_type: t.state.code(),
        create_time: format_time(t.create_time, tz),
        update_time: format_time(t.update_time, tz),
        leads_count: t.leads_count,
        script_id: t.script_id,
        job_group_id: t.job_group_id,
        size_desc: t.size_desc,
        called_count: t.called_count,
        connected_count: t.connected_count,
    }
}

/// A scene as the API shows it.
pub fn scene_json(s: &Scene, tz: chrono_tz::Tz) -> Value {
    json!({
        "id": s.id,
        "scene_name": s.scene_name,
        "script_id": s.script_id,
        "description": s.description,
        "filters": s.filters,
        "create_time": format_time(s.create_time, tz),
    })
}

/// `data` of `POST /api/create-autoCall-tasks`.
pub fn created_json(created: &CreatedTask, tz: chrono_tz::Tz) -> Value {
    let t = &created.task;
    json!({
        "task_id": t.id,
        "task_name": t.task_name,
        "task_type": t.state.code(),
        "leads_count": t.leads_count,
        "duplicates_removed": created.duplicates_removed,
        "size_desc": t.size_desc,
        "create_time": format_time(t.create_time, tz),
    })
}

/// `POST /api/create-autoCall-tasks` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    /// Name, 1..=100 characters (not unique).
    #[schema(
        example = "双十一回访",
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
    )]
    task_name: String,
    /// Script on the platform, up to 128 characters; may be empty and set later. With `scene_id`,
    /// empty takes the scene's script.
    #[serde(default)]
    #[schema(example = "", max_length = 128, pattern = r"^[^\u0000]*$")]
    script_id: String,
    /// Human summary of the filter, up to 500 characters; written by the service when omitted
    /// or blank.
    #[serde(default)]
    #[schema(max_length = 500, pattern = r"^[^\u0000]*$")]
    size_desc: Option<String>,
    /// Which leads; with `scene_id`, omitted takes the scene's filter.
    #[serde(default)]
    #[schema(value_type = Option<crate::openapi::LeadFilterDto>)]
    filters: Option<LeadFilterInput>,
    /// A scene whose filter and script fill in what the request omits (404 if unknown).
    #[serde(default)]
    scene_id: Option<i64>,
}

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
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = NoMatchingLeads),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn create(
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<CreateBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let req = CreateTaskRequest {
        task_name: b.task_name,
        script_id: b.script_id,
        size_desc: b.size_desc,
        filters: b.filters,
        scene_id: b.scene_id,
    };
    let created = state
        .tasks
        .create(&auth.caller.scope, auth.caller.user_id, req)
        .await?;
    Ok(ok("创建外呼任务成功", created_json(&created, state.tz)))
}

/// `GET /api/task_list` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TaskListQuery {
    /// Page number, from 1 (default 1).
    #[param(minimum = 1, maximum = 1000000, default = 1)]
    page: Option<i64>,
    /// Items per page, 1..=100 (default 20).
    #[param(minimum = 1, maximum = 100, default = 20)]
    page_size: Option<i64>,
    /// Only tasks in this state (1 created, 2 running, 3 completed, 4 paused, 5 stopped).
    #[param(minimum = 1, maximum = 5)]
    task_type: Option<i64>,
    /// Literal substring of the task name (up to 100 characters).
    #[param(max_length = 100, pattern = r"^[^\u0000]*$")]
    keyword: Option<String>,
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
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn task_list(
    state: web::Data<AppState>,
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
    let keyword = q
        .keyword
        .map(|k| k.trim().to_owned())
        .filter(|k| !k.is_empty());
    let page = state
        .tasks
        .list(
            &auth.caller.scope,
            TaskListFilter {
                state: state_filter,
                keyword,
            },
            page,
        )
        .await?;
    let tz = state.tz;
    Ok(ok("获取任务列表成功", page.map(|t| task_json(t, tz))))
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
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn recent(
    state: web::Data<AppState>,
    _: crate::extract::Query<crate::extract::NoQuery>,
    auth: Auth,
) -> Result<HttpResponse, ApiError> {
    let items: Vec<TaskDto> = state
        .tasks
        .recent(&auth.caller.scope)
        .await?
        .into_iter()
        .map(|t| task_json(t, state.tz))
        .collect();
    Ok(ok("获取任务列表成功", json!({ "items": items })))
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
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn stats(
    state: web::Data<AppState>,
    _: crate::extract::Query<crate::extract::NoQuery>,
    auth: Auth,
) -> Result<HttpResponse, ApiError> {
    Ok(ok(
        "获取任务统计成功",
        state.tasks.stats(&auth.caller.scope).await?,
    ))
}

/// `POST /api/update-script-id` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateScriptBody {
    /// The task.
    task_id: i64,
    /// Script on the platform, 1..=128 characters (empty is 400).
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
    )]
    script_id: String,
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
        (status = 404, response = NotFound),
        (status = 409, response = InvalidTaskState),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn update_script(
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<UpdateScriptBody>,
) -> Result<HttpResponse, ApiError> {
    let t = state
        .tasks
        .update_script(&auth.caller.scope, body.task_id, &body.script_id)
        .await?;
    Ok(ok("更新脚本成功", task_json(t, state.tz)))
}

/// `POST /api/create_scene` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SceneBody {
    /// Name, 1..=100 characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
    )]
    scene_name: String,
    /// Script on the platform, 1..=128 characters.
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
    )]
    script_id: String,
    /// Description, up to 500 characters.
    #[serde(default)]
    #[schema(max_length = 500, pattern = r"^[^\u0000]*$")]
    description: Option<String>,
    /// The lead filter tasks of this scene use.
    #[serde(default)]
    #[schema(value_type = Option<crate::openapi::LeadFilterDto>)]
    filters: Option<LeadFilterInput>,
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
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn create_scene(
    state: web::Data<AppState>,
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
    Ok(ok("创建场景成功", scene_json(&s, state.tz)))
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
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn scenes(
    state: web::Data<AppState>,
    _: crate::extract::Query<crate::extract::NoQuery>,
    auth: Auth,
) -> Result<HttpResponse, ApiError> {
    let items: Vec<Value> = state
        .tasks
        .list_scenes(&auth.caller.scope)
        .await?
        .iter()
        .map(|s| scene_json(s, state.tz))
        .collect();
    Ok(ok("获取场景列表成功", json!({ "items": items })))
}
