//! `/`: the overview of the caller's tasks and the task list (the seed's TaskListDrawer, the
//! page's main panel: newest first, 20 at a time with "load more", search by name and state),
//! with the drawers that slide in over it, each with a URL of its own: `/?panel=create`,
//! `/?panel=select`, `/?panel=scenes` and `/tasks/{id}`.

use actix_web::{HttpRequest, HttpResponse, web};
use api::ApiState;
use askama::Template;
use kernel::{Page, PageRequest};
use serde::Deserialize;
use tasks::{CallTask, TaskListFilter, TaskState, TaskStats};

use crate::error::ConsoleError;
use crate::pages::{create, ok, scenes, text, wants_drawer};
use crate::session::Session;
use crate::views::{Badge, Layout, count, percent, time};

/// Tasks a page of the list shows.
const PAGE: i64 = 20;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    layout: Layout,
    cards: Vec<(&'static str, String)>,
    rows: String,
    drawer: String,
    states: Vec<(i16, &'static str)>,
}

/// A task as a row of the list.
pub struct TaskRow {
    id: i64,
    name: String,
    badge: Badge,
    leads: String,
    called: String,
    connected: String,
    created: String,
}

impl TaskRow {
    /// The row of a task.
    pub fn of(t: &CallTask, tz: chrono_tz::Tz) -> Self {
        TaskRow {
            id: t.id.0,
            name: t.task_name.clone(),
            badge: Badge::of(t.state),
            leads: count(t.leads_count),
            called: count(t.called_count),
            connected: count(t.connected_count),
            created: time(t.create_time, tz),
        }
    }
}

#[derive(Template)]
#[template(path = "task_rows.html")]
struct TaskRows {
    rows: Vec<TaskRow>,
    /// The query of the next page, when there is one.
    more: Option<String>,
    empty: bool,
}

#[derive(Template)]
#[template(path = "select_drawer.html")]
struct SelectDrawer {
    rows: Vec<TaskRow>,
}

#[derive(Deserialize)]
pub struct HomeQuery {
    panel: Option<String>,
    scene_id: Option<String>,
}

/// The home page, with the drawer of `?panel=` open.
pub async fn home(
    req: HttpRequest,
    state: web::Data<ApiState>,
    session: Session,
    q: web::Query<HomeQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let drawer = match q.panel.as_deref() {
        None | Some("") => String::new(),
        Some("create") => {
            let scene = match q.scene_id.as_deref().filter(|s| !s.is_empty()) {
                None => None,
                Some(s) => Some(s.parse().map_err(|_| ConsoleError::NotFound)?),
            };
            create::drawer(&state, &session, scene).await?
        }
        Some("scenes") => scenes::drawer(&state, &session, None).await?,
        Some("select") => {
            let tasks = state.tasks.recent(&session.caller.scope).await?;
            text(SelectDrawer {
                rows: tasks
                    .iter()
                    .filter(|t| t.state != TaskState::Created)
                    .map(|t| TaskRow::of(t, state.tz))
                    .collect(),
            })?
        }
        Some(_) => return Err(ConsoleError::NotFound),
    };
    with_drawer(&req, &state, &session, drawer).await
}

/// The overview's cards: counts over the caller's tasks.
fn cards(s: &TaskStats) -> Vec<(&'static str, String)> {
    let by = |st: TaskState| s.by_type.get(&st.code().to_string()).copied().unwrap_or(0);
    vec![
        ("任务", count(s.total_tasks)),
        ("进行中", count(by(TaskState::Running))),
        ("已完成", count(by(TaskState::Completed))),
        ("任务线索", count(s.total_leads)),
        ("已外呼", count(s.called)),
        ("已接通", count(s.connected)),
        ("接通率", percent(s.connect_rate)),
    ]
}

#[derive(Template)]
#[template(path = "overview.html")]
struct Overview {
    cards: Vec<(&'static str, String)>,
}

/// The overview alone, read again when a task is created or changes state.
pub async fn overview(
    state: web::Data<ApiState>,
    session: Session,
) -> Result<HttpResponse, ConsoleError> {
    let s = state.tasks.stats(&session.caller.scope).await?;
    ok(Overview { cards: cards(&s) })
}

/// The answer to a drawer's URL: the drawer alone when htmx asks for it from a page, else the
/// home page with the drawer open.
pub async fn with_drawer(
    req: &HttpRequest,
    state: &ApiState,
    session: &Session,
    drawer: String,
) -> Result<HttpResponse, ConsoleError> {
    if wants_drawer(req) {
        return Ok(HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(drawer));
    }
    let (filter, page) = asked(&RowsQuery::default())?;
    let (s, found) = state
        .tasks
        .overview(&session.caller.scope, filter.clone(), page)
        .await?;
    let rows = task_rows(&found, &filter, state.tz);
    let cards = cards(&s);
    let rows = text(rows)?;
    ok(HomePage {
        layout: Layout::of(session, "home"),
        cards,
        rows,
        drawer,
        states: TaskState::ALL
            .into_iter()
            .map(|s| (s.code(), api::words::state_name(s)))
            .collect(),
    })
}

#[derive(Deserialize, Default)]
pub struct RowsQuery {
    page: Option<i64>,
    keyword: Option<String>,
    state: Option<String>,
}

/// The list's filter and page as asked.
fn asked(q: &RowsQuery) -> Result<(TaskListFilter, PageRequest), ConsoleError> {
    let keyword = q
        .keyword
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned);
    let state = match q.state.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(code) => Some(
            code.parse()
                .ok()
                .and_then(TaskState::from_code)
                .ok_or_else(|| ConsoleError::bad_input("任务状态无效"))?,
        ),
    };
    let page = PageRequest::new(Some(q.page.unwrap_or(1)), Some(PAGE))?;
    Ok((TaskListFilter { state, keyword }, page))
}

/// The rows of a page of tasks found with `filter`, with the query of the next page.
fn task_rows(found: &Page<CallTask>, filter: &TaskListFilter, tz: chrono_tz::Tz) -> TaskRows {
    let page = i64::from(found.pagination.page);
    let more = (page < found.pagination.total_pages).then(|| {
        let mut q = vec![("page", (page + 1).to_string())];
        if let Some(k) = &filter.keyword {
            q.push(("keyword", k.clone()));
        }
        if let Some(s) = filter.state {
            q.push(("state", s.code().to_string()));
        }
        serde_urlencoded::to_string(q).unwrap_or_default()
    });
    TaskRows {
        empty: found.items.is_empty() && page == 1,
        rows: found.items.iter().map(|t| TaskRow::of(t, tz)).collect(),
        more,
    }
}

/// Rows of the task list: a search, or the next page.
pub async fn rows(
    state: web::Data<ApiState>,
    session: Session,
    q: web::Query<RowsQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let (filter, page) = asked(&q)?;
    let found = state
        .tasks
        .list(&session.caller.scope, filter.clone(), page)
        .await?;
    ok(task_rows(&found, &filter, state.tz))
}
