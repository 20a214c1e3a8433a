//! Running tasks: start, suspend/resume, stop, execution results, statistics, runs, monitor,
//! configuration check.

use actix_web::{web, HttpResponse};
use kernel::{format_time, mask_phone, PageRequest};
use serde::Deserialize;
use serde_json::{json, Value};
use tasks::execution::Run;

use crate::envelope::ok;
use crate::error::ApiError;
use crate::extract::Auth;
use crate::routes::tasks::task_json;
use crate::state::AppState;

/// `{ task_id }` bodies.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskIdBody {
    task_id: i64,
}

/// `POST /api/start-call-task`.
pub async fn start(state: web::Data<AppState>, auth: Auth, body: web::Json<TaskIdBody>) -> Result<HttpResponse, ApiError> {
    let s = state.exec.start(&auth.caller.scope, body.task_id).await?;
    Ok(ok(
        "任务已开始外呼",
        json!({ "task_id": s.task_id, "task_type": 2, "job_group_id": s.job_group_id, "leads_total": s.leads_total }),
    ))
}

/// `POST /api/suspend-resume-task` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuspendBody {
    task_id: i64,
    action: String,
}

/// `POST /api/suspend-resume-task`.
pub async fn suspend_resume(state: web::Data<AppState>, auth: Auth, body: web::Json<SuspendBody>) -> Result<HttpResponse, ApiError> {
    let scope = &auth.caller.scope;
    let (t, msg) = match body.action.as_str() {
        "suspend" => (state.exec.suspend(scope, body.task_id).await?, "任务已暂停"),
        "resume" => (state.exec.resume(scope, body.task_id).await?, "任务已恢复"),
        _ => return Err(ApiError::bad_request("action 必须是 suspend 或 resume")),
    };
    Ok(ok(msg, task_json(&t, state.tz)))
}

/// `POST /api/stop-call-task`.
pub async fn stop(state: web::Data<AppState>, auth: Auth, body: web::Json<TaskIdBody>) -> Result<HttpResponse, ApiError> {
    let t = state.exec.stop(&auth.caller.scope, body.task_id).await?;
    Ok(ok("任务已停止", task_json(&t, state.tz)))
}

/// `POST /api/query-task-execution` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutionBody {
    task_id: i64,
    #[serde(default)]
    page: Option<i64>,
    #[serde(default)]
    page_size: Option<i64>,
    #[serde(default)]
    call_status: Option<String>,
    #[serde(default)]
    refresh: Option<bool>,
}

/// `POST /api/query-task-execution`.
pub async fn executions(state: web::Data<AppState>, auth: Auth, body: web::Json<ExecutionBody>) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let page = PageRequest::new(b.page, b.page_size)?;
    let status = b.call_status.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let (page, summary) =
        state.exec.executions(&auth.caller.scope, b.task_id, status, page, b.refresh.unwrap_or(false)).await?;
    let tz = state.tz;
    let page = page.map(|r| {
        json!({
            "lead_id": r.lead_id,
            "customer_name": r.customer_name,
            "phone": mask_phone(&r.phone),
            "call_status": r.call_status,
            "attempts": r.attempts,
            "last_call_time": r.last_call_time.map(|t| format_time(t, tz)),
            "duration_seconds": r.duration_seconds,
            "intent_level": r.intent_level,
            "job_id": r.job_id,
        })
    });
    Ok(ok("获取任务执行情况成功", json!({ "items": page.items, "pagination": page.pagination, "summary": summary })))
}

/// `GET /api/get-leads-follow` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowQuery {
    task_id: i64,
    page: Option<i64>,
    page_size: Option<i64>,
}

/// `GET /api/get-leads-follow`.
pub async fn follow(state: web::Data<AppState>, auth: Auth, q: web::Query<FollowQuery>) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let page = PageRequest::new(q.page, q.page_size)?;
    let (page, _) = state.exec.executions(&auth.caller.scope, q.task_id, None, page, false).await?;
    let tz = state.tz;
    Ok(ok(
        "获取线索跟进信息成功",
        page.map(|r| {
            json!({
                "lead_id": r.lead_id,
                "customer_name": r.customer_name,
                "phone": mask_phone(&r.phone),
                "call_status": r.call_status,
                "intent_level": r.intent_level,
                "intent_tags": r.intent_tags,
                "summary": r.summary,
                "follow_suggestion": r.follow_suggestion,
                "call_time": r.last_call_time.map(|t| format_time(t, tz)),
                "duration_seconds": r.duration_seconds,
            })
        }),
    ))
}

/// `GET /api/task-statistics` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskIdQuery {
    task_id: i64,
}

/// `GET /api/task-statistics`.
pub async fn statistics(state: web::Data<AppState>, auth: Auth, q: web::Query<TaskIdQuery>) -> Result<HttpResponse, ApiError> {
    let (task, s) = state.exec.statistics(&auth.caller.scope, q.task_id).await?;
    let rate = if s.called > 0 { s.connected as f64 / s.called as f64 } else { 0.0 };
    let progress = if s.leads_total > 0 { (s.finished as f64 * 100.0 / s.leads_total as f64 * 10.0).round() / 10.0 } else { 0.0 };
    Ok(ok(
        "获取任务统计成功",
        json!({
            "task_id": task.id,
            "task_type": task.state.code(),
            "leads_total": s.leads_total,
            "dispatched": s.dispatched,
            "called": s.called,
            "connected": s.connected,
            "connect_rate": rate,
            "avg_duration_seconds": s.avg_duration_seconds,
            "by_call_status": s.by_call_status,
            "by_intent_level": s.by_intent_level,
            "progress": progress,
        }),
    ))
}

fn run_json(r: &Run, tz: chrono_tz::Tz) -> Value {
    let progress = if r.total > 0 { ((r.processed as f64 * 100.0 / r.total as f64) * 10.0).round() / 10.0 } else if r.status == "succeeded" { 100.0 } else { 0.0 };
    json!({
        "run_id": r.id,
        "task_id": r.task_id,
        "status": r.status,
        "total": r.total,
        "processed": r.processed,
        "progress": if r.status == "succeeded" { 100.0 } else { progress.min(100.0) },
        "started_at": r.started_at.map(|t| format_time(t, tz)),
        "finished_at": r.finished_at.map(|t| format_time(t, tz)),
        "error": r.error,
    })
}

/// `POST /api/start-query-execution-run`.
pub async fn start_run(state: web::Data<AppState>, auth: Auth, body: web::Json<TaskIdBody>) -> Result<HttpResponse, ApiError> {
    let r = state.exec.start_run(&auth.caller.scope, body.task_id).await?;
    state.workers.wake_runs();
    Ok(ok("执行查询已开始", run_json(&r, state.tz)))
}

/// `GET /api/get-query-execution-run` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunQuery {
    run_id: i64,
}

/// `GET /api/get-query-execution-run`.
pub async fn get_run(state: web::Data<AppState>, auth: Auth, q: web::Query<RunQuery>) -> Result<HttpResponse, ApiError> {
    let r = state.exec.get_run(&auth.caller.scope, q.run_id).await?;
    Ok(ok("获取执行查询成功", run_json(&r, state.tz)))
}

/// `POST /api/auto-task` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoTaskBody {
    action: String,
}

/// `POST /api/auto-task`.
pub async fn auto_task(state: web::Data<AppState>, auth: Auth, body: web::Json<AutoTaskBody>) -> Result<HttpResponse, ApiError> {
    let msg = match body.action.as_str() {
        "start" => {
            auth.require_admin()?;
            state.workers.monitor.set_running(true);
            "自动任务监控已启动"
        }
        "stop" => {
            auth.require_admin()?;
            state.workers.monitor.set_running(false);
            "自动任务监控已停止"
        }
        "check" => "自动任务监控状态",
        _ => return Err(ApiError::bad_request("action 必须是 start、stop 或 check")),
    };
    Ok(ok(msg, state.workers.monitor.status_json(state.tz)))
}

/// `GET /api/config-check` (admin).
pub async fn config_check(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    auth.require_admin()?;
    let checks = crate::checks::run(&state).await;
    Ok(ok("配置检查完成", json!({ "checks": checks })))
}
