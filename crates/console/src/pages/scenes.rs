//! The scenes drawer: the organisation's scenes (a script and a lead filter saved together),
//! creating one, and creating a task from one.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use api::ApiState;
use askama::Template;
use leads::LeadFilterInput;
use tasks::NewScene;

use crate::error::ConsoleError;
use crate::pages::filter_form::{FilterForm, field, pairs, read};
use crate::pages::{html, ok, text};
use crate::session::Session;
use crate::views::time;

struct SceneRow {
    id: i64,
    name: String,
    script_id: String,
    description: String,
    filter: String,
    created: String,
}

#[derive(Template)]
#[template(path = "scenes_drawer.html")]
struct ScenesDrawer {
    scenes: Vec<SceneRow>,
    scene_name: String,
    script_id: String,
    description: String,
    form: FilterForm,
    error: Option<String>,
    saved: Option<String>,
}

struct Entered {
    scene_name: String,
    script_id: String,
    description: String,
    input: LeadFilterInput,
}

async fn render(
    state: &ApiState,
    session: &Session,
    entered: Entered,
    error: Option<String>,
    saved: Option<String>,
) -> Result<ScenesDrawer, ConsoleError> {
    let scope = &session.caller.scope;
    let scenes = state.tasks.list_scenes(scope).await?;
    let mut rows = Vec::with_capacity(scenes.len());
    for s in scenes {
        let filter = match state.leads.resolve_filter(scope, &s.filters) {
            Ok((_, f)) => f.describe(state.tz),
            // a scene whose organisations left the caller's scope still shows
            Err(_) => "（筛选条件包含其他组织）".to_owned(),
        };
        rows.push(SceneRow {
            id: s.id.0,
            name: s.scene_name,
            script_id: s.script_id,
            description: s.description,
            filter,
            created: time(s.create_time, state.tz),
        });
    }
    Ok(ScenesDrawer {
        scenes: rows,
        scene_name: entered.scene_name,
        script_id: entered.script_id,
        description: entered.description,
        form: FilterForm::load(state, session, &entered.input, Some(true)).await?,
        error,
        saved,
    })
}

/// The drawer, with a message when a scene was just saved.
pub async fn drawer(
    state: &ApiState,
    session: &Session,
    saved: Option<String>,
) -> Result<String, ConsoleError> {
    let empty = Entered {
        scene_name: String::new(),
        script_id: String::new(),
        description: String::new(),
        input: LeadFilterInput::default(),
    };
    text(render(state, session, empty, None, saved).await?)
}

/// Save a scene; a refusal shows on the form with what was entered.
pub async fn create(
    state: web::Data<ApiState>,
    session: Session,
    body: String,
) -> Result<HttpResponse, ConsoleError> {
    let p = pairs(&body)?;
    let entered = Entered {
        scene_name: field(&p, "scene_name").unwrap_or_default(),
        script_id: field(&p, "script_id").unwrap_or_default(),
        description: field(&p, "description").unwrap_or_default(),
        input: read(&p)?,
    };
    let scene = NewScene {
        scene_name: entered.scene_name.clone(),
        script_id: entered.script_id.clone(),
        description: entered.description.clone(),
        filters: entered.input.clone(),
    };
    match state
        .tasks
        .create_scene(&session.caller.scope, session.caller.user_id, scene)
        .await
    {
        Ok(s) => {
            let saved = format!("场景「{}」已保存", s.scene_name);
            ok(render(
                &state,
                &session,
                Entered {
                    scene_name: String::new(),
                    script_id: String::new(),
                    description: String::new(),
                    input: LeadFilterInput::default(),
                },
                None,
                Some(saved),
            )
            .await?)
        }
        Err(e) => {
            let e = ConsoleError::from(e);
            match e {
                ConsoleError::Api(_) | ConsoleError::NotFound => {
                    let status = if matches!(e, ConsoleError::NotFound) {
                        StatusCode::NOT_FOUND
                    } else {
                        e.status()
                    };
                    html(
                        status,
                        render(&state, &session, entered, Some(e.message()), None).await?,
                    )
                }
                other => Err(other),
            }
        }
    }
}
