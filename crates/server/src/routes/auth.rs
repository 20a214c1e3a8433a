//! Health, login, token verification, organisations.

use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::envelope::ok;
use crate::error::ApiError;
use crate::extract::Auth;
use crate::state::AppState;

/// `GET /api/health`.
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let version = env!("CARGO_PKG_VERSION");
    let db_ok = matches!(
        tokio::time::timeout(Duration::from_secs(2), adapters::db::ping(&state.pool)).await,
        Ok(Ok(()))
    );
    if db_ok {
        ok("服务正常", json!({ "status": "ok", "database": "ok", "version": version }))
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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    username: String,
    password: String,
}

/// `POST /api/login`.
pub async fn login(state: web::Data<AppState>, req: HttpRequest, body: web::Json<LoginBody>) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    if body.username.is_empty() || body.username.len() > 128 || body.password.is_empty() || body.password.len() > 1024 {
        return Err(ApiError::bad_request("用户名和密码不能为空"));
    }
    let addr = req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_else(|| "unknown".into());
    let session = state.auth.login(&body.username, &body.password, &addr).await?;
    Ok(ok(
        "登录成功",
        json!({
            "access_token": session.access_token,
            "token_type": "bearer",
            "expires_in": session.expires_in,
            "user": user_json(&session.user),
        }),
    ))
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

/// `GET /api/auth/verify`.
pub async fn verify(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    let expires_at = chrono::DateTime::from_timestamp(auth.expires_at, 0)
        .map(|t| kernel::format_time(t, state.tz))
        .unwrap_or_default();
    Ok(ok("令牌有效", json!({ "valid": true, "user": user_json(&auth.user), "expires_at": expires_at })))
}

/// `GET /api/organizations`.
pub async fn organizations(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    let tree = state.orgs.tree(&auth.caller.scope).await?;
    Ok(ok("获取组织列表成功", json!({ "items": tree })))
}
