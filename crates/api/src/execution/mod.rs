//! Running tasks: start, suspend/resume, stop, execution results, statistics, runs, monitor.

pub mod dto;

use actix_web::{HttpResponse, web};
use audit::{Action, Target};
use kernel::{PageRequest, RunId, TaskId};

use crate::audit::record::{refusal, switch_monitor};
use crate::envelope::{Envelope, Paged, ok};
use crate::error::ApiError;
use crate::extract::{Auth, Json, Query};
use crate::responses::{
    BadRequest, DatabaseUnavailable, Forbidden, InvalidTaskState, NotFound, PasswordChangeRequired,
    PayloadTooLarge, PlatformFailed, ScriptNotSet, TaskNotStartable, Unauthorized, Unavailable,
};
use crate::state::ApiState;
use crate::tasks::dto::TaskDto;
use dto::{
    AutoTaskAction, AutoTaskBody, ExecutionBody, ExecutionPageDto, ExecutionRowDto, FollowQuery,
    FollowRowDto, MonitorDto, RunDto, RunQuery, StartedDto, SuspendAction, SuspendBody, TaskIdBody,
    TaskIdQuery, TaskStatisticsDto,
};

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
        (status = 403, response = PasswordChangeRequired),
        (status = 404, response = NotFound),
        (status = 409, response = TaskNotStartable),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = ScriptNotSet),
        (status = 502, response = PlatformFailed),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn start(
    state: web::Data<ApiState>,
    auth: Auth,
    body: Json<TaskIdBody>,
) -> Result<HttpResponse, ApiError> {
    let id = TaskId(body.task_id);
    let started = state
        .execution
        .lifecycle
        .start(&auth.caller, id)
        .await
        .map_err(ApiError::from);
    let what = (Action::TaskStart, Some(Target::Task(id)));
    let started = refusal(&state, &auth.caller, what, started).await?;
    Ok(ok("任务已开始外呼", StartedDto::from(started)))
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
        (status = 403, response = PasswordChangeRequired),
        (status = 404, response = NotFound),
        (status = 409, response = InvalidTaskState),
        (status = 413, response = PayloadTooLarge),
        (status = 502, response = PlatformFailed),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn suspend_resume(
    state: web::Data<ApiState>,
    auth: Auth,
    body: Json<SuspendBody>,
) -> Result<HttpResponse, ApiError> {
    let (caller, id) = (&auth.caller, TaskId(body.task_id));
    let lifecycle = &state.execution.lifecycle;
    let (task, action, message) = match body.action {
        SuspendAction::Suspend => (
            lifecycle.suspend(caller, id).await,
            Action::TaskSuspend,
            "任务已暂停",
        ),
        SuspendAction::Resume => (
            lifecycle.resume(caller, id).await,
            Action::TaskResume,
            "任务已恢复",
        ),
    };
    let what = (action, Some(Target::Task(id)));
    let task = refusal(&state, caller, what, task.map_err(ApiError::from)).await?;
    Ok(ok(message, TaskDto::new(task, state.tz)))
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
        (status = 403, response = PasswordChangeRequired),
        (status = 404, response = NotFound),
        (status = 409, response = InvalidTaskState),
        (status = 413, response = PayloadTooLarge),
        (status = 502, response = PlatformFailed),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn stop(
    state: web::Data<ApiState>,
    auth: Auth,
    body: Json<TaskIdBody>,
) -> Result<HttpResponse, ApiError> {
    let id = TaskId(body.task_id);
    let task = state
        .execution
        .lifecycle
        .stop(&auth.caller, id)
        .await
        .map_err(ApiError::from);
    let what = (Action::TaskStop, Some(Target::Task(id)));
    let task = refusal(&state, &auth.caller, what, task).await?;
    Ok(ok("任务已停止", TaskDto::new(task, state.tz)))
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
        (status = 403, response = PasswordChangeRequired),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 502, response = PlatformFailed),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn executions(
    state: web::Data<ApiState>,
    auth: Auth,
    body: Json<ExecutionBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let page = PageRequest::new(b.page, b.page_size)?;
    let status = b
        .call_status
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let (page, summary) = state
        .execution
        .results
        .executions(
            &auth.caller.scope,
            TaskId(b.task_id),
            status,
            page,
            b.refresh.unwrap_or(false),
        )
        .await?;
    let tz = state.tz;
    let page = Paged::of(page, |r| ExecutionRowDto::new(r, tz));
    Ok(ok(
        "获取任务执行情况成功",
        ExecutionPageDto {
            items: page.items,
            pagination: page.pagination,
            summary,
        },
    ))
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
        (status = 403, response = PasswordChangeRequired),
        (status = 404, response = NotFound),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn follow(
    state: web::Data<ApiState>,
    auth: Auth,
    q: Query<FollowQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let page = PageRequest::new(q.page, q.page_size)?;
    let (page, _) = state
        .execution
        .results
        .executions(&auth.caller.scope, TaskId(q.task_id), None, page, false)
        .await?;
    let tz = state.tz;
    Ok(ok(
        "获取线索跟进信息成功",
        Paged::of(page, |r| FollowRowDto::new(r, tz)),
    ))
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
        (status = 403, response = PasswordChangeRequired),
        (status = 404, response = NotFound),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn statistics(
    state: web::Data<ApiState>,
    auth: Auth,
    q: Query<TaskIdQuery>,
) -> Result<HttpResponse, ApiError> {
    let (task, s) = state
        .execution
        .results
        .statistics(&auth.caller.scope, TaskId(q.task_id))
        .await?;
    Ok(ok("获取任务统计成功", TaskStatisticsDto::new(&task, s)))
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
        (status = 403, response = PasswordChangeRequired),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn start_run(
    state: web::Data<ApiState>,
    auth: Auth,
    body: Json<TaskIdBody>,
) -> Result<HttpResponse, ApiError> {
    let run = state
        .execution
        .runs
        .start(&auth.caller.scope, TaskId(body.task_id))
        .await?;
    Ok(ok("执行查询已开始", RunDto::new(run, state.tz)))
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
        (status = 403, response = PasswordChangeRequired),
        (status = 404, response = NotFound),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn get_run(
    state: web::Data<ApiState>,
    auth: Auth,
    q: Query<RunQuery>,
) -> Result<HttpResponse, ApiError> {
    let run = state
        .execution
        .runs
        .get(&auth.caller.scope, RunId(q.run_id))
        .await?;
    Ok(ok("获取执行查询成功", RunDto::new(run, state.tz)))
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
    state: web::Data<ApiState>,
    auth: Auth,
    body: Json<AutoTaskBody>,
) -> Result<HttpResponse, ApiError> {
    let message = match body.action {
        AutoTaskAction::Start => {
            auth.require_admin()?;
            switch_monitor(&state, &auth.caller, true).await;
            "自动任务监控已启动"
        }
        AutoTaskAction::Stop => {
            auth.require_admin()?;
            switch_monitor(&state, &auth.caller, false).await;
            "自动任务监控已停止"
        }
        AutoTaskAction::Check => "自动任务监控状态",
    };
    Ok(ok(
        message,
        MonitorDto::new(state.background.monitor_status(), state.tz),
    ))
}
