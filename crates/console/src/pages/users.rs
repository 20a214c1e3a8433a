//! `/users` (admins): the users of the admin's organisation subtree: search, create, change name,
//! role and organisation, disable and enable, reset a password (the temporary password shown
//! once). Every action answers the table again, with the search it was made under.

use actix_web::{HttpResponse, web};
use api::audit::record::refusal;
use api::{ApiError, ApiState};
use askama::Template;
use askama_web::WebTemplate;
use audit::{Action as Audited, Target};
use auth::accounts::NewAccount;
use auth::{UserChange, UserFilter};
use kernel::{OrgId, PageRequest, Role, UserId};
use serde::Deserialize;

use crate::error::ConsoleError;
use crate::pages::ok;
use crate::pages::orgs::{OrgOption, org_options};
use crate::session::Session;
use crate::views::{Layout, time};

/// One user of the table.
struct UserRow {
    id: i64,
    username: String,
    display_name: String,
    admin: bool,
    org_id: i64,
    enabled: bool,
    must_change: bool,
    created: String,
}

/// A temporary password, shown once.
struct Temporary {
    username: String,
    password: String,
}

#[derive(Template)]
#[template(path = "user_table.html")]
struct UserTable {
    users: Vec<UserRow>,
    orgs: Vec<OrgOption>,
    page: u32,
    pages: i64,
    total: i64,
    notice: Option<String>,
    temporary: Option<Temporary>,
}

#[derive(Template, WebTemplate)]
#[template(path = "users.html")]
pub struct UsersPage {
    layout: Layout,
    table: String,
    orgs: Vec<OrgOption>,
    search: Search,
}

/// The search a table is shown under (the fields of `#user-search`, sent along with every
/// action).
#[derive(Deserialize, Default, Clone)]
pub struct Search {
    #[serde(default)]
    keyword: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    enabled: String,
    page: Option<i64>,
}

impl Search {
    fn filter(&self) -> Result<UserFilter, ConsoleError> {
        let role = match self.role.as_str() {
            "" => None,
            r => Some(r.parse::<Role>().map_err(ConsoleError::bad_input)?),
        };
        let enabled = match self.enabled.as_str() {
            "" => None,
            "true" => Some(true),
            "false" => Some(false),
            _ => return Err(ConsoleError::bad_input("状态无效")),
        };
        Ok(UserFilter {
            org_id: None,
            keyword: Some(self.keyword.clone()),
            role,
            enabled,
        })
    }
}

async fn table(
    state: &ApiState,
    session: &Session,
    search: Search,
    notice: Option<String>,
    temporary: Option<Temporary>,
) -> Result<UserTable, ConsoleError> {
    let page = PageRequest::new(search.page, Some(20))?;
    let found = state
        .accounts
        .list(&session.caller, search.filter()?, page)
        .await?;
    let users = found
        .items
        .into_iter()
        .map(|u| UserRow {
            id: u.id.0,
            username: u.username,
            display_name: u.display_name,
            admin: u.role == Role::Admin,
            org_id: u.org_id.0,
            enabled: u.enabled,
            must_change: u.password_change_required,
            created: time(u.created_at, state.tz),
        })
        .collect();
    Ok(UserTable {
        users,
        orgs: org_options(state, session).await?,
        page: page.page(),
        pages: found.pagination.total_pages,
        total: found.pagination.total,
        notice,
        temporary,
    })
}

/// The page.
pub async fn page(
    state: web::Data<ApiState>,
    session: Session,
    q: web::Query<Search>,
) -> Result<UsersPage, ConsoleError> {
    session.require_admin()?;
    let search = q.into_inner();
    let t = table(&state, &session, search.clone(), None, None).await?;
    Ok(UsersPage {
        layout: Layout::of(&session, "users"),
        // the table's choices of organisation serve the form too
        orgs: t.orgs.clone(),
        table: crate::pages::text(t)?,
        search,
    })
}

/// The table alone (searching, paging).
pub async fn rows(
    state: web::Data<ApiState>,
    session: Session,
    q: web::Query<Search>,
) -> Result<HttpResponse, ConsoleError> {
    session.require_admin()?;
    ok(table(&state, &session, q.into_inner(), None, None).await?)
}

#[derive(Deserialize)]
pub struct NewUserInput {
    org_id: i64,
    username: String,
    display_name: String,
    role: String,
    password: String,
    #[serde(flatten)]
    search: Search,
}

/// Create a user.
pub async fn create(
    state: web::Data<ApiState>,
    session: Session,
    form: web::Form<NewUserInput>,
) -> Result<HttpResponse, ConsoleError> {
    session.require_admin()?;
    let f = form.into_inner();
    let new = NewAccount {
        org_id: OrgId(f.org_id),
        display_name: Some(f.display_name).filter(|n| !n.trim().is_empty()),
        username: f.username,
        role: f.role.parse::<Role>().map_err(ConsoleError::bad_input)?,
        password: f.password,
    };
    let created = state.accounts.create(&session.caller, new).await;
    let what = (Audited::UserCreate, None);
    let user = refusal(
        &state,
        &session.caller,
        what,
        created.map_err(ApiError::from),
    )
    .await?;
    let notice = format!("已创建用户 {}", user.username);
    ok(table(&state, &session, f.search, Some(notice), None).await?)
}

#[derive(Deserialize)]
pub struct UpdateInput {
    display_name: String,
    role: String,
    org_id: i64,
    #[serde(flatten)]
    search: Search,
}

/// Change a user's name, role and organisation.
pub async fn update(
    state: web::Data<ApiState>,
    session: Session,
    id: web::Path<i64>,
    form: web::Form<UpdateInput>,
) -> Result<HttpResponse, ConsoleError> {
    session.require_admin()?;
    let f = form.into_inner();
    let change = UserChange {
        display_name: Some(f.display_name),
        role: Some(f.role.parse::<Role>().map_err(ConsoleError::bad_input)?),
        org_id: Some(OrgId(f.org_id)),
        enabled: None,
    };
    let done = state
        .accounts
        .update(&session.caller, UserId(*id), change)
        .await;
    let what = (Audited::UserUpdate, Some(Target::User(UserId(*id))));
    let user = refusal(&state, &session.caller, what, done.map_err(ApiError::from)).await?;
    let notice = format!("已保存用户 {}", user.username);
    ok(table(&state, &session, f.search, Some(notice), None).await?)
}

/// Disable or enable a user (`action` is `disable` or `enable`), or reset their password
/// (`reset-password`).
pub async fn act(
    state: web::Data<ApiState>,
    session: Session,
    path: web::Path<(i64, String)>,
    form: web::Form<Search>,
) -> Result<HttpResponse, ConsoleError> {
    session.require_admin()?;
    let (id, action) = path.into_inner();
    let (id, caller) = (UserId(id), &session.caller);
    let (notice, temporary) = match action.as_str() {
        "disable" | "enable" => {
            let enabled = action == "enable";
            let done = state.accounts.set_enabled(caller, id, enabled).await;
            let action = if enabled {
                Audited::UserEnable
            } else {
                Audited::UserDisable
            };
            let what = (action, Some(Target::User(id)));
            let u = refusal(&state, caller, what, done.map_err(ApiError::from)).await?;
            let verb = if enabled { "启用" } else { "停用" };
            (Some(format!("已{verb}用户 {}", u.username)), None)
        }
        "reset-password" => {
            let done = state.accounts.reset_password(caller, id).await;
            let what = (Audited::UserResetPassword, Some(Target::User(id)));
            let (u, password) = refusal(&state, caller, what, done.map_err(ApiError::from)).await?;
            let t = Temporary {
                username: u.username,
                password,
            };
            (None, Some(t))
        }
        _ => return Err(ConsoleError::NotFound),
    };
    ok(table(&state, &session, form.into_inner(), notice, temporary).await?)
}
