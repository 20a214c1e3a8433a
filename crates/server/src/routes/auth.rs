//! Health, login, token verification, organisations.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::envelope::ok;
use crate::error::ApiError;
use crate::extract::{Auth, Json};
use crate::openapi::{
    BadRequest, DatabaseUnavailable, Envelope, HealthData, HealthUnavailable, InvalidCredentials,
    Items, LoginData, OrgNodeDto, PayloadTooLarge, TooManyAttempts, Unauthorized, VerifyData,
};
use crate::state::AppState;

/// Health check.
///
/// No authentication. Answers within about two seconds even when the database hangs.
#[utoipa::path(
    get,
    path = "/api/health",
    operation_id = "health",
    tag = "health",
    responses(
        (status = 200, description = "The service and its database work.", body = Envelope<HealthData>,
            example = json!({"status": "success", "code": 200, "message": "服务正常",
                "data": {"status": "ok", "database": "ok", "version": "0.1.0"}})),
        (status = 503, description = "The database cannot be reached: an error envelope \
            (`database_unavailable`) whose `data` still carries the report.", body = HealthUnavailable,
            example = json!({"status": "error", "code": 503, "message": "数据库不可用", "error": "database_unavailable",
                "data": {"status": "degraded", "database": "unavailable", "version": "0.1.0"}})),
        (status = 400, response = BadRequest),
    ),
)]
pub async fn health(
    state: web::Data<AppState>,
    _: crate::extract::Query<crate::extract::NoQuery>,
) -> HttpResponse {
    let db_ok = matches!(
        tokio::time::timeout(Duration::from_secs(2), adapters::db::ping(&state.pool)).await,
        Ok(Ok(()))
    );
    health_response(db_ok)
}

/// The health answer: 200, or 503 with the degraded report when the database is unreachable.
pub fn health_response(db_ok: bool) -> HttpResponse {
    let version = env!("CARGO_PKG_VERSION");
    if db_ok {
        ok(
            "服务正常",
            json!({ "status": "ok", "database": "ok", "version": version }),
        )
    } else {
        HttpResponse::ServiceUnavailable().json(json!({
            "status": "error",
            "code": 503,
            "message": "数据库不可用",
            "error": "database_unavailable",
            "data": { "status": "degraded", "database": "unavailable", "version": version },
        }))
    }
}

/// Login body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    /// Login name (1..=128 characters).
    #[schema(
        example = "admin",
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\u0000]*$"
    )]
    username: String,
    /// Password (1..=1024 characters).
    #[schema(
        example = "password123",
        min_length = 1,
        max_length = 1024,
        pattern = r"^[^\u0000]*$"
    )]
    password: String,
}

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
    state: web::Data<AppState>,
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
    Ok(ok("登录成功", login_json(&session)))
}

/// `data` of `POST /api/login`.
pub fn login_json(session: &auth::Session) -> serde_json::Value {
    json!({
        "access_token": session.access_token,
        "token_type": "bearer",
        "expires_in": session.expires_in,
        "user": user_json(&session.user),
    })
}

/// The contract's `User`.
pub fn user_json(u: &auth::User) -> serde_json::Value {
    json!({
        "id": u.id,
        "username": u.username,
        "display_name": u.display_name,
        "role": u.role,
        "org_id": u.org_id,
        "dcc_user_org_id": u.org_id,
        "org_name": u.org_name,
    })
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
    state: web::Data<AppState>,
    _: crate::extract::Query<crate::extract::NoQuery>,
    auth: Auth,
) -> Result<HttpResponse, ApiError> {
    Ok(ok(
        "令牌有效",
        verify_json(&auth.user, auth.expires_at, state.tz),
    ))
}

/// `data` of `GET /api/auth/verify`.
pub fn verify_json(user: &auth::User, expires_at: i64, tz: chrono_tz::Tz) -> serde_json::Value {
    let expires_at = chrono::DateTime::from_timestamp(expires_at, 0)
        .map(|t| kernel::format_time(t, tz))
        .unwrap_or_default();
    json!({ "valid": true, "user": user_json(user), "expires_at": expires_at })
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
    state: web::Data<AppState>,
    _: crate::extract::Query<crate::extract::NoQuery>,
    auth: Auth,
) -> Result<HttpResponse, ApiError> {
    let tree = state.orgs.tree(&auth.caller.scope).await?;
    Ok(ok("获取组织列表成功", json!({ "items": tree })))
}
