//! Login, token verification, organisations.

pub mod dto;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::envelope::{Envelope, Items, ok};
use crate::error::ApiError;
use crate::extract::{Auth, Json, NoQuery, Query};
use crate::responses::{
    BadRequest, DatabaseUnavailable, InvalidCredentials, PayloadTooLarge, TooManyAttempts,
    Unauthorized,
};
use crate::state::ApiState;
use dto::{LoginBody, LoginData, OrgNodeDto, VerifyData};

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
    let addr = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    let session = state
        .auth
        .login(&body.username, &body.password, &addr)
        .await?;
    Ok(ok("登录成功", LoginData::from(&session)))
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
    auth: Auth,
) -> Result<HttpResponse, ApiError> {
    Ok(ok(
        "令牌有效",
        VerifyData::new(&auth.user, auth.expires_at, state.tz),
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
