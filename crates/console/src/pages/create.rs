//! The task creation drawer (the seed's TaskCreationDrawer): a name, the lead filter, an
//! optional scene and script; a preview of matched, deduplicated and excluded leads and the
//! generated description that follows the fields as they change; "no leads match" shown on the
//! form.

use actix_web::{HttpRequest, HttpResponse, web};
use api::ApiState;
use askama::Template;
use kernel::SceneId;
use leads::LeadFilterInput;
use tasks::{CreateTaskRequest, Scene};

use crate::error::ConsoleError;
use crate::pages::filter_form::{FilterForm, field, pairs, read};
use crate::pages::{detail, html, ok, text};
use crate::session::Session;
use crate::views::count;

#[derive(Template)]
#[template(path = "create_drawer.html")]
struct CreateDrawer {
    task_name: String,
    script_id: String,
    scenes: Vec<(i64, String, bool)>,
    form: FilterForm,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "preview.html")]
struct Preview {
    matched: String,
    deduplicated: String,
    excluded_do_not_call: String,
    excluded_in_active_tasks: String,
    none: bool,
    size_desc: String,
    error: Option<String>,
}

struct Values {
    task_name: String,
    script_id: String,
    scene: Option<i64>,
    input: LeadFilterInput,
}

async fn render(
    state: &ApiState,
    session: &Session,
    v: Values,
    error: Option<String>,
) -> Result<CreateDrawer, ConsoleError> {
    let scenes: Vec<Scene> = state.tasks.list_scenes(&session.caller.scope).await?;
    Ok(CreateDrawer {
        task_name: v.task_name,
        script_id: v.script_id,
        scenes: scenes
            .into_iter()
            .map(|s| (s.id.0, s.scene_name, v.scene == Some(s.id.0)))
            .collect(),
        form: FilterForm::load(state, session, &v.input, Some(true)).await?,
        error,
    })
}

/// The drawer, empty or filled from scene `scene`.
pub async fn drawer(
    state: &ApiState,
    session: &Session,
    scene: Option<i64>,
) -> Result<String, ConsoleError> {
    let mut v = Values {
        task_name: String::new(),
        script_id: String::new(),
        scene,
        input: LeadFilterInput::default(),
    };
    if let Some(id) = scene {
        let s = state
            .tasks
            .list_scenes(&session.caller.scope)
            .await?
            .into_iter()
            .find(|s| s.id.0 == id)
            .ok_or(ConsoleError::NotFound)?;
        v.script_id = s.script_id;
        v.input = s.filters;
    }
    text(render(state, session, v, None).await?)
}

/// The preview of the form's filter.
pub async fn preview(
    state: web::Data<ApiState>,
    session: Session,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    let refused = |e: ConsoleError| html(e.status(), Preview::refused(e.message()));
    let input = match pairs(req.query_string()).and_then(|p| read(&p)) {
        Ok(i) => i,
        Err(e) => return refused(e),
    };
    let scope = &session.caller.scope;
    let described = state
        .leads
        .resolve_filter(scope, &input)
        .map(|(_, f)| f.describe(state.tz));
    let size_desc = match described {
        Ok(d) => d,
        Err(e) => return refused(e.into()),
    };
    match state.leads.preview(scope, &input).await {
        Ok(p) => ok(Preview {
            matched: count(p.matched),
            deduplicated: count(p.deduplicated),
            excluded_do_not_call: count(p.excluded_do_not_call),
            excluded_in_active_tasks: count(p.excluded_in_active_tasks),
            none: p.deduplicated == 0,
            size_desc,
            error: None,
        }),
        Err(e) => refused(e.into()),
    }
}

impl Preview {
    fn refused(message: String) -> Self {
        Preview {
            matched: String::new(),
            deduplicated: String::new(),
            excluded_do_not_call: String::new(),
            excluded_in_active_tasks: String::new(),
            none: false,
            size_desc: String::new(),
            error: Some(message),
        }
    }
}

/// Create the task: its drawer opens and the list is told; a refusal shows on the form.
pub async fn create(
    state: web::Data<ApiState>,
    session: Session,
    body: String,
) -> Result<HttpResponse, ConsoleError> {
    let p = pairs(&body)?;
    let scene = match field(&p, "scene_id") {
        None => None,
        Some(s) => Some(
            s.parse::<i64>()
                .map_err(|_| ConsoleError::bad_input("场景无效"))?,
        ),
    };
    let values = Values {
        task_name: field(&p, "task_name").unwrap_or_default(),
        script_id: field(&p, "script_id").unwrap_or_default(),
        scene,
        input: read(&p)?,
    };
    let request = CreateTaskRequest {
        task_name: values.task_name.clone(),
        script_id: values.script_id.clone(),
        size_desc: None,
        filters: Some(values.input.clone()),
        scene_id: scene.map(SceneId),
    };
    match state.tasks.create(&session.caller, request).await {
        Ok(created) => {
            let id = created.task.id;
            let drawer = detail::drawer_html(&state, &session, id, &Default::default()).await?;
            Ok(HttpResponse::Ok()
                .content_type("text/html; charset=utf-8")
                .insert_header(("HX-Push-Url", format!("/tasks/{}", id.0)))
                .insert_header(("HX-Trigger", "tasks-changed"))
                .body(drawer))
        }
        Err(e) => {
            let e = api::ApiError::from(e);
            let what = (audit::Action::TaskCreate, None);
            api::audit::record::refused(&state, &session.caller, what, &e).await;
            let e = ConsoleError::from(e);
            if matches!(e, ConsoleError::NotFound | ConsoleError::Api(_)) {
                let status = e.status();
                let message = e.message();
                html(
                    status,
                    render(&state, &session, values, Some(message)).await?,
                )
            } else {
                Err(e)
            }
        }
    }
}
