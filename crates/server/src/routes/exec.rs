//! Running tasks: start, suspend/resume, stop, execution results, statistics, runs, monitor,
//! configuration check.

use actix_web::{HttpResponse, web};
use kernel::{PageRequest, format_time, mask_phone};
use serde::Deserialize;
use serde_json::{Value, json};
use tasks::CallTask;
use tasks::execution::{ExecutionRow, Run, Started, TaskStatistics};

use crate::envelope::ok;
use crate::error::ApiError;
use crate::extract::{Auth, Json, Query};
use crate::openapi::{
    BadRequest, ConfigCheckDto, DatabaseUnavailable, Envelope, ExecutionPageDto, FollowRowDto,
    Forbidden, InvalidTaskState, MonitorDto, NotFound, Paged, PayloadTooLarge, PlatformFailed,
    RunDto, ScriptNotSet, StartedDto, TaskDto, TaskNotStartable, TaskStatisticsDto, Unauthorized,
    Unavailable,
};
use crate::routes::tasks::task_json;
use crate::state::AppState;

/// `{ task_id }` bodies.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskIdBody {
    /// The task.
    task_id: i64,
}

/// `data` of `POST /api/start-call-task`.
pub fn started_json(s: &Started) -> Value {
    json!({ "task_id": s.task_id, "task_type": 2, "job_group_id": s.job_group_id, "leads_total": s.leads_total })
}

/// Start calling a task (1 → 2).
///
/// Creates the platform job group, then returns; the leads are pushed to the platform in the
/// background, each exactly once. Two concurrent starts: one succeeds, the other is 409.
#[utoipa::path(
    post,
    path = "/api/start-call-task",
    operation_id = "start_task",
    tag = "execution",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "Started.", body = Envelope<StartedDto>,
            links(
                ("SuspendResumeTask" = (operation_id = "suspend_resume_task", request_body = json!({"task_id": "$response.body#/data/task_id"}), description = "The task just answered.")),
                ("StopTask" = (operation_id = "stop_task", request_body = json!({"task_id": "$response.body#/data/task_id"}), description = "The task just answered.")),
                ("QueryTaskExecution" = (operation_id = "query_task_execution", request_body = json!({"task_id": "$response.body#/data/task_id"}), description = "The task just answered.")),
                ("StartQueryExecutionRun" = (operation_id = "start_query_execution_run", request_body = json!({"task_id": "$response.body#/data/task_id"}), description = "The task just answered.")),
                ("LeadsFollow" = (operation_id = "leads_follow", parameters(("task_id" = "$response.body#/data/task_id")), description = "The task just answered.")),
                ("TaskStatistics" = (operation_id = "task_statistics", parameters(("task_id" = "$response.body#/data/task_id")), description = "The task just answered."))
            )),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, response = TaskNotStartable),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = ScriptNotSet),
        (status = 502, response = PlatformFailed),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn start(
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<TaskIdBody>,
) -> Result<HttpResponse, ApiError> {
    let s = state.exec.start(&auth.caller.scope, body.task_id).await?;
    state.workers.wake_dispatch();
    Ok(ok("任务已开始外呼", started_json(&s)))
}

/// `POST /api/suspend-resume-task` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuspendBody {
    /// The task.
    task_id: i64,
    /// `suspend` (2 → 4) or `resume` (4 → 2).
    #[schema(value_type = crate::openapi::SuspendAction)]
    action: String,
}

/// Suspend (2 → 4) or resume (4 → 2) a task on the platform.
#[utoipa::path(
    post,
    path = "/api/suspend-resume-task",
    operation_id = "suspend_resume_task",
    tag = "execution",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "The updated task.", body = Envelope<TaskDto>,
            links(
                ("SuspendResumeTask" = (operation_id = "suspend_resume_task", request_body = json!({"task_id": "$response.body#/data/id"}), description = "The task just answered.")),
                ("StopTask" = (operation_id = "stop_task", request_body = json!({"task_id": "$response.body#/data/id"}), description = "The task just answered.")),
                ("QueryTaskExecution" = (operation_id = "query_task_execution", request_body = json!({"task_id": "$response.body#/data/id"}), description = "The task just answered.")),
                ("TaskStatistics" = (operation_id = "task_statistics", parameters(("task_id" = "$response.body#/data/id")), description = "The task just answered."))
            )),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, response = InvalidTaskState),
        (status = 413, response = PayloadTooLarge),
        (status = 502, response = PlatformFailed),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn suspend_resume(
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<SuspendBody>,
) -> Result<HttpResponse, ApiError> {
    let scope = &auth.caller.scope;
    let (t, msg) = match body.action.as_str() {
        "suspend" => (state.exec.suspend(scope, body.task_id).await?, "任务已暂停"),
        "resume" => {
            let t = state.exec.resume(scope, body.task_id).await?;
            state.workers.wake_dispatch();
            (t, "任务已恢复")
        }
        _ => return Err(ApiError::bad_request("action 必须是 suspend 或 resume")),
    };
    Ok(ok(msg, task_json(t, state.tz)))
}

/// Stop a task (1/2/4 → 5): cancel its platform jobs; its unfinished leads become `cancelled`.
#[utoipa::path(
    post,
    path = "/api/stop-call-task",
    operation_id = "stop_task",
    tag = "execution",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "The updated task (state 5).", body = Envelope<TaskDto>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, response = InvalidTaskState),
        (status = 413, response = PayloadTooLarge),
        (status = 502, response = PlatformFailed),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn stop(
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<TaskIdBody>,
) -> Result<HttpResponse, ApiError> {
    let t = state.exec.stop(&auth.caller.scope, body.task_id).await?;
    Ok(ok("任务已停止", task_json(t, state.tz)))
}

/// `POST /api/query-task-execution` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecutionBody {
    /// The task.
    task_id: i64,
    /// Page number, from 1 (default 1).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000000, default = 1)]
    page: Option<i64>,
    /// Items per page, 1..=100 (default 20).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100, default = 20)]
    page_size: Option<i64>,
    /// Only leads in this call status.
    #[serde(default)]
    #[schema(value_type = Option<crate::openapi::CallStatusDto>)]
    call_status: Option<String>,
    /// Pull the latest results from the platform first.
    #[serde(default)]
    #[schema(default = false)]
    refresh: Option<bool>,
}

/// A per-lead execution row (phone masked).
pub fn execution_row_json(r: &ExecutionRow, tz: chrono_tz::Tz) -> Value {
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
}

/// Per-lead execution results of a task (paged), with counts per call status.
#[utoipa::path(
    post,
    path = "/api/query-task-execution",
    operation_id = "query_task_execution",
    tag = "execution",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "A page of rows plus `summary`.", body = Envelope<ExecutionPageDto>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 502, response = PlatformFailed),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn executions(
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<ExecutionBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let page = PageRequest::new(b.page, b.page_size)?;
    let status = b
        .call_status
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    let (page, summary) = state
        .exec
        .executions(
            &auth.caller.scope,
            b.task_id,
            status,
            page,
            b.refresh.unwrap_or(false),
        )
        .await?;
    let tz = state.tz;
    let page = page.map(|r| execution_row_json(&r, tz));
    Ok(ok(
        "获取任务执行情况成功",
        json!({ "items": page.items, "pagination": page.pagination, "summary": summary }),
    ))
}

/// `GET /api/get-leads-follow` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FollowQuery {
    /// The task.
    task_id: i64,
    /// Page number, from 1 (default 1).
    #[param(minimum = 1, maximum = 1000000, default = 1)]
    page: Option<i64>,
    /// Items per page, 1..=100 (default 20).
    #[param(minimum = 1, maximum = 100, default = 20)]
    page_size: Option<i64>,
}

/// A follow-up row (phone masked).
pub fn follow_row_json(r: &ExecutionRow, tz: chrono_tz::Tz) -> Value {
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
}

/// Follow-up information of a task's leads (paged): call outcome, intent, summary, suggestion.
#[utoipa::path(
    get,
    path = "/api/get-leads-follow",
    params(FollowQuery),
    operation_id = "leads_follow",
    tag = "execution",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "A page of follow-up rows.", body = Envelope<Paged<FollowRowDto>>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn follow(
    state: web::Data<AppState>,
    auth: Auth,
    q: Query<FollowQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let page = PageRequest::new(q.page, q.page_size)?;
    let (page, _) = state
        .exec
        .executions(&auth.caller.scope, q.task_id, None, page, false)
        .await?;
    let tz = state.tz;
    Ok(ok(
        "获取线索跟进信息成功",
        page.map(|r| follow_row_json(&r, tz)),
    ))
}

/// `GET /api/task-statistics` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TaskIdQuery {
    /// The task.
    task_id: i64,
}

/// Progress and outcome counts of a task.
#[utoipa::path(
    get,
    path = "/api/task-statistics",
    params(TaskIdQuery),
    operation_id = "task_statistics",
    tag = "execution",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "Statistics.", body = Envelope<TaskStatisticsDto>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn statistics(
    state: web::Data<AppState>,
    auth: Auth,
    q: Query<TaskIdQuery>,
) -> Result<HttpResponse, ApiError> {
    let (task, s) = state.exec.statistics(&auth.caller.scope, q.task_id).await?;
    Ok(ok("获取任务统计成功", statistics_json(&task, s)))
}

/// `data` of `GET /api/task-statistics`.
pub fn statistics_json(task: &CallTask, s: TaskStatistics) -> TaskStatisticsDto {
    let rate = if s.called > 0 {
        s.connected as f64 / s.called as f64
    } else {
        0.0
    };
    let progress = if s.leads_total > 0 {
        (s.finished as f64 * 100.0 / s.leads_total as f64 * 10.0).round() / 10.0
    } else {
        0.0
    };
    TaskStatisticsDto {
        task_id: task.id,
        task_type: task.state.code(),
        leads_total: s.leads_total,
        dispatched: s.dispatched,
        called: s.called,
        connected: s.connected,
        connect_rate: rate,
        avg_duration_seconds: s.avg_duration_seconds,
        by_call_status: s.by_call_status,
        by_intent_level: s.by_intent_level,
        progress,
    }
}

/// A query execution run as the API shows it.
pub fn run_json(r: &Run, tz: chrono_tz::Tz) -> Value {
    let progress = if r.total > 0 {
        ((r.processed as f64 * 100.0 / r.total as f64) * 10.0).round() / 10.0
    } else if r.status == "succeeded" {
        100.0
    } else {
        0.0
    };
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

/// Start a background run that pulls the results of every job of the task from the platform.
///
/// At most one unfinished run per task: a second start returns the existing run.
#[utoipa::path(
    post,
    path = "/api/start-query-execution-run",
    operation_id = "start_query_execution_run",
    tag = "execution",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "The run (new, `pending`, or the task's unfinished one).", body = Envelope<RunDto>,
            links(
                ("GetQueryExecutionRun" = (operation_id = "get_query_execution_run",
                    parameters(("run_id" = "$response.body#/data/run_id")),
                    description = "The run just started."))
            )),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn start_run(
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<TaskIdBody>,
) -> Result<HttpResponse, ApiError> {
    let r = state
        .exec
        .start_run(&auth.caller.scope, body.task_id)
        .await?;
    state.workers.wake_runs();
    Ok(ok("执行查询已开始", run_json(&r, state.tz)))
}

/// `GET /api/get-query-execution-run` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RunQuery {
    /// The run.
    run_id: i64,
}

/// A query execution run's progress.
#[utoipa::path(
    get,
    path = "/api/get-query-execution-run",
    params(RunQuery),
    operation_id = "get_query_execution_run",
    tag = "execution",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "The run.", body = Envelope<RunDto>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn get_run(
    state: web::Data<AppState>,
    auth: Auth,
    q: Query<RunQuery>,
) -> Result<HttpResponse, ApiError> {
    let r = state.exec.get_run(&auth.caller.scope, q.run_id).await?;
    Ok(ok("获取执行查询成功", run_json(&r, state.tz)))
}

/// `POST /api/auto-task` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoTaskBody {
    /// `start` or `stop` (admin), or `check`.
    #[schema(value_type = crate::openapi::AutoTaskAction)]
    action: String,
}

/// Start, stop (admin) or check the automatic task monitor of this instance.
#[utoipa::path(
    post,
    path = "/api/auto-task",
    operation_id = "auto_task",
    tag = "execution",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "The monitor's status.", body = Envelope<MonitorDto>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn auto_task(
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<AutoTaskBody>,
) -> Result<HttpResponse, ApiError> {
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

/// Configuration check (admin): database and migrations, platform, token secret, monitor.
#[utoipa::path(
    get,
    path = "/api/config-check",
    operation_id = "config_check",
    tag = "health",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "The checks.", body = Envelope<ConfigCheckDto>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn config_check(
    state: web::Data<AppState>,
    _: crate::extract::Query<crate::extract::NoQuery>,
    auth: Auth,
) -> Result<HttpResponse, ApiError> {
    auth.require_admin()?;
    let checks = crate::checks::run(&state).await;
    Ok(ok("配置检查完成", json!({ "checks": checks })))
}
