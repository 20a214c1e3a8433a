//! Call tasks: create, list, statistics, script, scenes.

use actix_web::{web, HttpResponse};
use kernel::{format_time, PageRequest};
use leads::LeadFilterInput;
use serde::Deserialize;
use serde_json::{json, Value};
use tasks::{CallTask, CreateTaskRequest, NewScene, Scene, TaskListFilter, TaskState};

use crate::envelope::ok;
use crate::error::ApiError;
use crate::extract::Auth;
use crate::state::AppState;

/// The contract's `Task`.
pub fn task_json(t: &CallTask, tz: chrono_tz::Tz) -> Value {
    json!({
        "id": t.id,
        "task_name": t.task_name,
        "task_type": t.state.code(),
        "create_time": format_time(t.create_time, tz),
        "update_time": format_time(t.update_time, tz),
        "leads_count": t.leads_count,
        "script_id": t.script_id,
        "job_group_id": t.job_group_id,
        "size_desc": t.size_desc,
        "called_count": t.called_count,
        "connected_count": t.connected_count,
    })
}

fn scene_json(s: &Scene, tz: chrono_tz::Tz) -> Value {
    json!({
        "id": s.id,
        "scene_name": s.scene_name,
        "script_id": s.script_id,
        "description": s.description,
        "filters": s.filters,
        "create_time": format_time(s.create_time, tz),
    })
}

/// `POST /api/create-autoCall-tasks` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    task_name: String,
    #[serde(default)]
    script_id: String,
    #[serde(default)]
    size_desc: Option<String>,
    #[serde(default)]
    filters: Option<LeadFilterInput>,
    #[serde(default)]
    scene_id: Option<i64>,
}

/// `POST /api/create-autoCall-tasks`.
pub async fn create(state: web::Data<AppState>, auth: Auth, body: web::Json<CreateBody>) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let req = CreateTaskRequest {
        task_name: b.task_name,
        script_id: b.script_id,
        size_desc: b.size_desc,
        filters: b.filters,
        scene_id: b.scene_id,
    };
    let created = state.tasks.create(&auth.caller.scope, auth.caller.user_id, req).await?;
    let t = &created.task;
    Ok(ok(
        "创建外呼任务成功",
        json!({
            "task_id": t.id,
            "task_name": t.task_name,
            "task_type": t.state.code(),
            "leads_count": t.leads_count,
            "duplicates_removed": created.duplicates_removed,
            "size_desc": t.size_desc,
            "create_time": format_time(t.create_time, state.tz),
        }),
    ))
}

/// `GET /api/task_list` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskListQuery {
    page: Option<i64>,
    page_size: Option<i64>,
    task_type: Option<i64>,
    keyword: Option<String>,
}

/// `GET /api/task_list`.
pub async fn task_list(state: web::Data<AppState>, auth: Auth, q: web::Query<TaskListQuery>) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let page = PageRequest::new(q.page, q.page_size)?;
    let state_filter = match q.task_type {
        None => None,
        Some(code) => Some(TaskState::from_code(code).ok_or_else(|| ApiError::bad_request("task_type 必须是 1 到 5"))?),
    };
    let keyword = q.keyword.map(|k| k.trim().to_owned()).filter(|k| !k.is_empty());
    let page = state.tasks.list(&auth.caller.scope, TaskListFilter { state: state_filter, keyword }, page).await?;
    let tz = state.tz;
    Ok(ok("获取任务列表成功", page.map(|t| task_json(&t, tz))))
}

/// `GET /api/tasks`.
pub async fn recent(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    let items: Vec<Value> = state.tasks.recent(&auth.caller.scope).await?.iter().map(|t| task_json(t, state.tz)).collect();
    Ok(ok("获取任务列表成功", json!({ "items": items })))
}

/// `GET /api/task-stats`.
pub async fn stats(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    Ok(ok("获取任务统计成功", state.tasks.stats(&auth.caller.scope).await?))
}

/// `POST /api/update-script-id` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateScriptBody {
    task_id: i64,
    script_id: String,
}

/// `POST /api/update-script-id`.
pub async fn update_script(state: web::Data<AppState>, auth: Auth, body: web::Json<UpdateScriptBody>) -> Result<HttpResponse, ApiError> {
    let t = state.tasks.update_script(&auth.caller.scope, body.task_id, &body.script_id).await?;
    Ok(ok("更新脚本成功", task_json(&t, state.tz)))
}

/// `POST /api/create_scene` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SceneBody {
    scene_name: String,
    script_id: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    filters: Option<LeadFilterInput>,
}

/// `POST /api/create_scene`.
pub async fn create_scene(state: web::Data<AppState>, auth: Auth, body: web::Json<SceneBody>) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let scene = NewScene {
        scene_name: b.scene_name,
        script_id: b.script_id,
        description: b.description.unwrap_or_default(),
        filters: b.filters.unwrap_or_default(),
    };
    let s = state.tasks.create_scene(&auth.caller.scope, auth.caller.user_id, scene).await?;
    Ok(ok("创建场景成功", scene_json(&s, state.tz)))
}

/// `GET /api/scenes`.
pub async fn scenes(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    let items: Vec<Value> = state.tasks.list_scenes(&auth.caller.scope).await?.iter().map(|s| scene_json(s, state.tz)).collect();
    Ok(ok("获取场景列表成功", json!({ "items": items })))
}
