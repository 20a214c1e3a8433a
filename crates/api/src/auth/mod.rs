//! Login, token verification, organisations.

pub mod dto;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::envelope::{Envelope, Items, ok};
use crate::error::ApiError;
use crate::extract::{Auth, Json, NoQuery, PendingAuth, Query, client_addr, origin_of};
use crate::responses::{
    AccountDisabled, BadRequest, DatabaseUnavailable, Forbidden, InvalidCredentials, NotFound,
    OrgNameTaken, PasswordChangeRequired, PayloadTooLarge, TooManyAttempts, Unauthorized,
};
use crate::state::ApiState;
use dto::{LoginBody, LoginData, NewOrgBody, OrgNodeDto, VerifyData};

/// Log in: exchange username and password for a token.
///
/// No authentication. A wrong username and a wrong password get the same answer. After 5 failures
/// for one username within 15 minutes, or 50 from one client address, the answer is 429 (even with
/// the right password) until the window passes.
#[utoipa::path(
    post,
    path = "/api/login",
    operation_id = "login",
    tag = "auth",
    responses(
        (status = 200, description = "Logged in.", body = Envelope<LoginData>),
        (status = 400, response = BadRequest),
        (status = 401, response = InvalidCredentials),
        (status = 403, response = AccountDisabled),
        (status = 413, response = PayloadTooLarge),
        (status = 429, response = TooManyAttempts),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn login(
    state: web::Data<ApiState>,
    req: HttpRequest,
    body: Json<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    // lengths in characters, as the document's `minLength` / `maxLength` count them
    let username_len = body.username.chars().count();
    let password_len = body.password.chars().count();
    if !(1..=128).contains(&username_len) || !(1..=1024).contains(&password_len) {
        return Err(ApiError::bad_request(
            "用户名须为 1 到 128 个字符，密码须为 1 到 1024 个字符",
        ));
    }
    let result = state
        .auth
        .login(&body.username, &body.password, &client_addr(&req))
        .await
        .map_err(ApiError::from);
    crate::audit::record::login(&state, &origin_of(&req), &body.username, &result).await;
    Ok(ok("登录成功", LoginData::from(&result?)))
}

/// Verify the token of the request.
#[utoipa::path(
    get,
    path = "/api/auth/verify",
    operation_id = "verify_token",
    tag = "auth",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "The token is valid.", body = Envelope<VerifyData>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn verify(
    state: web::Data<ApiState>,
    _: Query<NoQuery>,
    PendingAuth(auth): PendingAuth,
) -> Result<HttpResponse, ApiError> {
    Ok(ok(
        "令牌有效",
        VerifyData::new(&auth.user, auth.claims.expires_at, state.tz),
    ))
}

/// The caller's organisation and its descendants, as a tree.
#[utoipa::path(
    get,
    path = "/api/organizations",
    operation_id = "organizations",
    tag = "auth",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "The tree (one root: the caller's organisation).", body = Envelope<Items<OrgNodeDto>>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = PasswordChangeRequired),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn organizations(
    state: web::Data<ApiState>,
    _: Query<NoQuery>,
    auth: Auth,
) -> Result<HttpResponse, ApiError> {
    let tree = state.orgs.tree(&auth.caller.scope).await?;
    Ok(ok("获取组织列表成功", Items::of(tree, OrgNodeDto::from)))
}

/// Create a child organisation of one in the caller's subtree (admins); names are unique among
/// siblings.
#[utoipa::path(
    post,
    path = "/api/organizations",
    request_body = NewOrgBody,
    operation_id = "create_organization",
    tag = "auth",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "The new organisation (no children yet).", body = Envelope<OrgNodeDto>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = OrgNameTaken),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn create_organization(
    state: web::Data<ApiState>,
    _: Query<NoQuery>,
    auth: Auth,
    body: Json<NewOrgBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let created = state
        .orgs
        .create_child(&auth.caller, &b.name, kernel::OrgId(b.parent_id))
        .await
        .map_err(ApiError::from);
    let what = (audit::Action::OrgCreate, None);
    let created = crate::audit::record::refusal(&state, &auth.caller, what, created).await?;
    let node = org::OrgNode {
        id: created.id,
        name: created.name,
        parent_id: created.parent_id,
        children: Vec::new(),
    };
    Ok(ok("创建组织成功", OrgNodeDto::from(node)))
}
