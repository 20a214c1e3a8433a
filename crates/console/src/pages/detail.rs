//! The task detail drawer (the seed's TaskDetailDrawer): its state and the actions it allows
//! (script while created, start with a script, suspend, resume, stop after a confirmation), its
//! live statistics, its query execution run (RunProgress) and its per-lead results.

use actix_web::{HttpRequest, HttpResponse, web};
use api::audit::record::refusal;
use api::words::{call_status_name, run_status_name};
use api::{ApiError, ApiState};
use askama::Template;
use audit::{Action as Audited, Target};
use kernel::{PageRequest, TaskId, mask_phone};
use serde::Deserialize;
use tasks::call_status::CallStatus;
use tasks::execution::{ExecutionRow, Run, TaskStatistics, TaskView};
use tasks::{CallTask, TaskState};

use crate::error::ConsoleError;
use crate::pages::{ok, text, with_drawer};
use crate::session::Session;
use crate::views::{Badge, count, percent, time};

/// Results a page of the table shows.
const RESULTS_PAGE: i64 = 20;

/// One button of the task's actions.
pub struct Action {
    /// Path segment (`start`, `suspend`, `resume`, `stop`).
    pub name: &'static str,
    /// Label.
    pub label: &'static str,
    /// Whether it can be pressed now (start needs a script).
    pub enabled: bool,
}

/// The task's state and what can be done with it (`#task-actions`).
#[derive(Template)]
#[template(path = "task_actions.html")]
pub struct TaskActions {
    id: i64,
    badge: Badge,
    script_id: String,
    editable_script: bool,
    actions: Vec<Action>,
    confirm_stop: bool,
    /// Whether its results can be pulled from the platform (it has a job group).
    pull: bool,
}

impl TaskActions {
    /// The actions of `t`'s state.
    pub fn of(t: &CallTask) -> Self {
        let script_set = !t.script_id.is_empty();
        let act = |name, label, enabled| Action {
            name,
            label,
            enabled,
        };
        let actions = match t.state {
            TaskState::Created => vec![act("start", "开始外呼", script_set)],
            TaskState::Running => vec![act("suspend", "暂停", true)],
            TaskState::Paused => vec![act("resume", "恢复", true)],
            TaskState::Completed | TaskState::Stopped => vec![],
        };
        TaskActions {
            id: t.id.0,
            badge: Badge::of(t.state),
            script_id: t.script_id.clone(),
            editable_script: t.state == TaskState::Created,
            actions,
            confirm_stop: false,
            pull: t.job_group_id.is_some(),
        }
        .stoppable(t.state.can_become(TaskState::Stopped))
    }

    fn stoppable(mut self, yes: bool) -> Self {
        if yes {
            self.actions.push(Action {
                name: "stop",
                label: "停止",
                enabled: true,
            });
        }
        self
    }
}

/// The task's statistics (`#task-stats`), sent again by the live stream as they change.
#[derive(Template)]
#[template(path = "task_stats.html")]
pub struct TaskStats {
    progress: f64,
    progress_text: String,
    cells: Vec<(&'static str, String)>,
    by_status: Vec<(&'static str, String)>,
    by_level: Vec<(String, String)>,
}

impl TaskStats {
    /// The view of a task's statistics.
    pub fn of(s: &TaskStatistics) -> Self {
        TaskStats {
            progress: s.progress(),
            progress_text: format!("{:.1}%", s.progress()),
            cells: vec![
                ("线索", count(s.leads_total)),
                ("已推送", count(s.dispatched)),
                ("已外呼", count(s.called)),
                ("已接通", count(s.connected)),
                ("接通率", percent(s.connect_rate())),
                ("平均通话", format!("{:.0} 秒", s.avg_duration_seconds)),
            ],
            by_status: CallStatus::ALL
                .into_iter()
                .filter_map(|cs| {
                    let n = s.by_call_status.get(cs.as_str()).copied().unwrap_or(0);
                    (n > 0).then(|| (call_status_name(cs), count(n)))
                })
                .collect(),
            by_level: s
                .by_intent_level
                .iter()
                .map(|(l, n)| (l.clone(), count(*n)))
                .collect(),
        }
    }
}

/// A query execution run's progress (`#task-run`).
#[derive(Template)]
#[template(path = "task_run.html")]
pub struct RunView {
    run: Option<RunLine>,
}

/// The line of a run.
pub struct RunLine {
    id: i64,
    live: bool,
    progress: f64,
    status: &'static str,
    processed: String,
    total: String,
    error: Option<String>,
}

impl RunView {
    /// The run part of a task with its newest run.
    pub fn of(run: Option<&Run>) -> Self {
        RunView {
            run: run.map(RunLine::of),
        }
    }
}

impl RunLine {
    /// The line of `r`.
    pub fn of(r: &Run) -> Self {
        RunLine {
            id: r.id.0,
            live: !r.status.is_finished(),
            progress: r.progress(),
            status: run_status_name(r.status),
            processed: count(r.processed),
            total: count(r.total),
            error: r.error.clone(),
        }
    }
}

/// The run's progress alone, as its live stream sends it.
#[derive(Template)]
#[template(path = "run_line.html")]
pub struct RunLineView {
    /// The line.
    pub line: RunLine,
}

struct ResultRow {
    name: String,
    phone: String,
    status: &'static str,
    attempts: i32,
    intent: String,
    duration: String,
    last_call: String,
    summary: String,
    suggestion: String,
}

impl ResultRow {
    fn of(r: &ExecutionRow, tz: chrono_tz::Tz) -> Self {
        ResultRow {
            name: r.customer_name.clone(),
            phone: mask_phone(&r.phone),
            status: call_status_name(r.call_status),
            attempts: r.attempts,
            intent: r.intent_level.clone().unwrap_or_default(),
            duration: r
                .duration_seconds
                .map(|d| format!("{d} 秒"))
                .unwrap_or_default(),
            last_call: r.last_call_time.map(|t| time(t, tz)).unwrap_or_default(),
            summary: r.summary.clone().unwrap_or_default(),
            suggestion: r.follow_suggestion.clone().unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "task_results.html")]
struct Results {
    id: i64,
    status: String,
    statuses: Vec<(&'static str, &'static str, String)>,
    rows: Vec<ResultRow>,
    page: i64,
    pages: i64,
    total: String,
}

#[derive(Template)]
#[template(path = "task_drawer.html")]
struct TaskDrawer {
    id: i64,
    name: String,
    size_desc: String,
    created: String,
    job_group: String,
    actions: String,
    stats: String,
    run: String,
    results: String,
}

/// Which results to show.
#[derive(Deserialize, Default, Clone)]
pub struct ResultsQuery {
    status: Option<String>,
    page: Option<i64>,
}

fn results_view(id: TaskId, status: Option<&str>, view: &TaskView, tz: chrono_tz::Tz) -> Results {
    let counts = &view.statistics.by_call_status;
    Results {
        id: id.0,
        status: status.unwrap_or_default().to_owned(),
        statuses: CallStatus::ALL
            .into_iter()
            .map(|cs| {
                (
                    cs.as_str(),
                    call_status_name(cs),
                    count(counts.get(cs.as_str()).copied().unwrap_or(0)),
                )
            })
            .collect(),
        rows: view
            .rows
            .items
            .iter()
            .map(|r| ResultRow::of(r, tz))
            .collect(),
        page: i64::from(view.rows.pagination.page),
        pages: view.rows.pagination.total_pages,
        total: count(view.rows.pagination.total),
    }
}

/// The results to read: the status as given, and the page.
fn asked(q: &ResultsQuery) -> Result<(Option<&str>, PageRequest), ConsoleError> {
    let status = q.status.as_deref().filter(|s| !s.is_empty());
    let page = PageRequest::new(Some(q.page.unwrap_or(1)), Some(RESULTS_PAGE))?;
    Ok((status, page))
}

/// The status as the domain knows it (checked by the read that took it).
fn known(status: Option<&str>) -> Option<&'static str> {
    status.and_then(CallStatus::parse).map(CallStatus::as_str)
}

async fn results_of(
    state: &ApiState,
    session: &Session,
    id: TaskId,
    q: &ResultsQuery,
    refresh: bool,
) -> Result<Results, ConsoleError> {
    let (status, page) = asked(q)?;
    let view = state
        .execution
        .results
        .view(&session.caller.scope, id, status, page, refresh)
        .await?;
    Ok(results_view(id, known(status), &view, state.tz))
}

/// The drawer of task `id` (404 when it is not one of the caller's).
pub async fn drawer_html(
    state: &ApiState,
    session: &Session,
    id: TaskId,
    q: &ResultsQuery,
) -> Result<String, ConsoleError> {
    let (status, page) = asked(q)?;
    let (view, run) = state
        .execution
        .results
        .detail(&session.caller.scope, id, status, page, false)
        .await?;
    let task = &view.task;
    text(TaskDrawer {
        id: id.0,
        name: task.task_name.clone(),
        size_desc: task.size_desc.clone(),
        created: time(task.create_time, state.tz),
        job_group: task.job_group_id.clone().unwrap_or_default(),
        actions: text(TaskActions::of(task))?,
        stats: text(TaskStats::of(&view.statistics))?,
        run: text(RunView::of(run.as_ref()))?,
        results: text(results_view(id, known(status), &view, state.tz))?,
    })
}

/// `/tasks/{id}`: the home page with the task's drawer open.
pub async fn drawer(
    req: HttpRequest,
    state: web::Data<ApiState>,
    session: Session,
    id: web::Path<i64>,
    q: web::Query<ResultsQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let drawer = drawer_html(&state, &session, TaskId(*id), &q).await?;
    with_drawer(&req, &state, &session, drawer).await
}

/// A page of results, of one status or all.
pub async fn results(
    state: web::Data<ApiState>,
    session: Session,
    id: web::Path<i64>,
    q: web::Query<ResultsQuery>,
) -> Result<HttpResponse, ConsoleError> {
    ok(results_of(&state, &session, TaskId(*id), &q, false).await?)
}

/// Pull the latest results from the platform, then show them.
pub async fn refresh(
    state: web::Data<ApiState>,
    session: Session,
    id: web::Path<i64>,
    q: web::Query<ResultsQuery>,
) -> Result<HttpResponse, ConsoleError> {
    ok(results_of(&state, &session, TaskId(*id), &q, true).await?)
}

async fn actions_answer(
    state: &ApiState,
    session: &Session,
    id: TaskId,
    confirm_stop: bool,
) -> Result<HttpResponse, ConsoleError> {
    let task = state.tasks.get(&session.caller.scope, id).await?;
    let mut view = TaskActions::of(&task);
    view.confirm_stop = confirm_stop && task.state.can_become(TaskState::Stopped);
    ok(view)
}

/// The actions of a task (also: "cancel" of the stop confirmation).
pub async fn actions(
    state: web::Data<ApiState>,
    session: Session,
    id: web::Path<i64>,
) -> Result<HttpResponse, ConsoleError> {
    actions_answer(&state, &session, TaskId(*id), false).await
}

/// The stop confirmation in place of the actions.
pub async fn confirm_stop(
    state: web::Data<ApiState>,
    session: Session,
    id: web::Path<i64>,
) -> Result<HttpResponse, ConsoleError> {
    actions_answer(&state, &session, TaskId(*id), true).await
}

#[derive(Deserialize)]
pub struct ScriptInput {
    script_id: String,
}

/// Set the script (state 已创建 only).
pub async fn set_script(
    state: web::Data<ApiState>,
    session: Session,
    id: web::Path<i64>,
    form: web::Form<ScriptInput>,
) -> Result<HttpResponse, ConsoleError> {
    let script = form.script_id.trim();
    if script.is_empty() {
        return Err(ConsoleError::bad_input("请填写外呼脚本 ID"));
    }
    let task = state
        .tasks
        .update_script(&session.caller, TaskId(*id), script)
        .await?;
    let mut res = ok(TaskActions::of(&task))?;
    res.headers_mut().insert(
        actix_web::http::header::HeaderName::from_static("hx-trigger"),
        actix_web::http::header::HeaderValue::from_static("tasks-changed"),
    );
    Ok(res)
}

/// Start, suspend, resume or stop the task; the actions of its new state come back.
pub async fn act(
    state: web::Data<ApiState>,
    session: Session,
    path: web::Path<(i64, String)>,
) -> Result<HttpResponse, ConsoleError> {
    let (id, action) = path.into_inner();
    let (caller, id, lifecycle) = (&session.caller, TaskId(id), &state.execution.lifecycle);
    let (done, what) = match action.as_str() {
        "start" => (
            lifecycle.start(caller, id).await.map(|_| ()),
            Audited::TaskStart,
        ),
        "suspend" => (
            lifecycle.suspend(caller, id).await.map(|_| ()),
            Audited::TaskSuspend,
        ),
        "resume" => (
            lifecycle.resume(caller, id).await.map(|_| ()),
            Audited::TaskResume,
        ),
        "stop" => (
            lifecycle.stop(caller, id).await.map(|_| ()),
            Audited::TaskStop,
        ),
        _ => return Err(ConsoleError::NotFound),
    };
    let done = done.map_err(ApiError::from);
    refusal(&state, caller, (what, Some(Target::Task(id))), done).await?;
    let task = state.tasks.get(&caller.scope, id).await?;
    let mut res = ok(TaskActions::of(&task))?;
    res.headers_mut().insert(
        actix_web::http::header::HeaderName::from_static("hx-trigger"),
        actix_web::http::header::HeaderValue::from_static("tasks-changed"),
    );
    Ok(res)
}

/// Start a query execution run (or find the unfinished one); its progress comes back, live.
pub async fn start_run(
    state: web::Data<ApiState>,
    session: Session,
    id: web::Path<i64>,
) -> Result<HttpResponse, ConsoleError> {
    let run = state
        .execution
        .runs
        .start(&session.caller.scope, TaskId(*id))
        .await?;
    ok(RunView::of(Some(&run)))
}
