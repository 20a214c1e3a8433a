//! `/organizations` (admins): the admin's organisation tree, and adding a child organisation.
//! Also the organisation choices of the users page.

use actix_web::{HttpResponse, web};
use api::audit::record::refusal;
use api::{ApiError, ApiState};
use askama::Template;
use askama_web::WebTemplate;
use kernel::OrgId;
use org::OrgNode;
use serde::Deserialize;

use crate::error::ConsoleError;
use crate::pages::ok;
use crate::session::Session;
use crate::views::Layout;

/// An organisation of the caller's subtree as a choice, indented by its depth.
#[derive(Clone)]
pub struct OrgOption {
    /// Id.
    pub id: i64,
    /// Name, indented.
    pub label: String,
}

fn flatten(nodes: &[OrgNode], depth: usize, out: &mut Vec<OrgOption>) {
    for n in nodes {
        out.push(OrgOption {
            id: n.id.0,
            label: format!("{}{}", "　".repeat(depth), n.name),
        });
        flatten(&n.children, depth + 1, out);
    }
}

/// The organisations of the caller's subtree, in tree order.
pub async fn org_options(
    state: &ApiState,
    session: &Session,
) -> Result<Vec<OrgOption>, ConsoleError> {
    let tree = state.orgs.tree(&session.caller.scope).await?;
    let mut out = Vec::new();
    flatten(&tree, 0, &mut out);
    Ok(out)
}

#[derive(Template)]
#[template(path = "org_tree.html")]
struct OrgTree {
    options: Vec<OrgOption>,
    notice: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "organizations.html")]
pub struct OrgsPage {
    layout: Layout,
    tree: String,
}

/// The page.
pub async fn page(state: web::Data<ApiState>, session: Session) -> Result<OrgsPage, ConsoleError> {
    session.require_admin()?;
    let tree = OrgTree {
        options: org_options(&state, &session).await?,
        notice: None,
    };
    Ok(OrgsPage {
        layout: Layout::of(&session, "organizations"),
        tree: crate::pages::text(tree)?,
    })
}

#[derive(Deserialize)]
pub struct NewOrgInput {
    name: String,
    parent_id: i64,
}

/// Add a child organisation; the tree is answered again.
pub async fn create(
    state: web::Data<ApiState>,
    session: Session,
    form: web::Form<NewOrgInput>,
) -> Result<HttpResponse, ConsoleError> {
    let f = form.into_inner();
    let created = state
        .orgs
        .create_child(&session.caller, &f.name, OrgId(f.parent_id))
        .await;
    let what = (audit::Action::OrgCreate, None);
    let created = refusal(
        &state,
        &session.caller,
        what,
        created.map_err(ApiError::from),
    )
    .await?;
    ok(OrgTree {
        options: org_options(&state, &session).await?,
        notice: Some(format!("已创建组织 {}", created.name)),
    })
}
