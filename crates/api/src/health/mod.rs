//! Health and the configuration check.

pub mod dto;

use actix_web::{HttpResponse, web};

use crate::envelope::ok;
use crate::error::{ApiError, ErrorCode};
use crate::extract::{Auth, NoQuery, Query};
use crate::responses::{BadRequest, DatabaseUnavailable, Forbidden, Unauthorized};
use crate::state::ApiState;
use dto::{CheckDto, ConfigCheckDto, HealthData, LiveData, ReadinessData};

/// Health check.
///
/// No authentication. Answers within about two seconds even when the database hangs.
#[utoipa::path(
    get,
    path = "/api/health",
    operation_id = "health",
    tag = "health",
    responses(
        (status = 200, description = "The service and its database work.", body = crate::envelope::Envelope<HealthData>,
            example = json!({"status": "success", "code": 200, "message": "服务正常",
                "data": {"status": "ok", "database": "ok", "version": "0.1.0"}})),
        (status = 503, description = "The database cannot be reached: an error envelope \
            (`database_unavailable`) whose `data` still carries the report.", body = dto::HealthUnavailable,
            example = json!({"status": "error", "code": 503, "message": "数据库不可用", "error": "database_unavailable",
                "data": {"status": "degraded", "database": "unavailable", "version": "0.1.0"}})),
        (status = 400, response = BadRequest),
    ),
)]
pub async fn health(
    state: web::Data<ApiState>,
    _: Query<NoQuery>,
) -> Result<HttpResponse, ApiError> {
    health_answer(state.ops.healthy().await)
}

/// The health answer: 200, or 503 `database_unavailable` with the degraded report.
pub fn health_answer(database_ok: bool) -> Result<HttpResponse, ApiError> {
    let report = HealthData::of(database_ok);
    if database_ok {
        Ok(ok("服务正常", report))
    } else {
        Err(ApiError::new(ErrorCode::DatabaseUnavailable, "数据库不可用").with_data(report))
    }
}

/// Liveness, for a load balancer or an orchestrator.
///
/// No authentication, no database: the process answers. Restart it when this fails.
#[utoipa::path(
    get,
    path = "/api/health/live",
    operation_id = "health_live",
    tag = "health",
    responses(
        (status = 200, description = "The process answers.", body = crate::envelope::Envelope<LiveData>,
            example = json!({"status": "success", "code": 200, "message": "服务存活",
                "data": {"status": "live", "version": "0.1.0"}})),
        (status = 400, response = BadRequest),
    ),
)]
pub async fn live(_: Query<NoQuery>) -> HttpResponse {
    ok("服务存活", LiveData::now())
}

/// Readiness, for a load balancer: send this instance requests only while it answers 200.
///
/// No authentication. Ready when the database answers, has every migration of this build, and
/// the instance is not shutting down (after SIGTERM it answers 503 while it goes on serving
/// for `DRAIN_SECS`). Answers within about two seconds even when the database hangs.
#[utoipa::path(
    get,
    path = "/api/health/ready",
    operation_id = "health_ready",
    tag = "health",
    responses(
        (status = 200, description = "Ready.", body = crate::envelope::Envelope<ReadinessData>,
            example = json!({"status": "success", "code": 200, "message": "实例就绪",
                "data": {"ready": true, "database": true, "migrations": true, "draining": false}})),
        (status = 503, description = "Not ready: an error envelope (`not_ready`) whose `data` \
            says why.", body = dto::NotReady,
            example = json!({"status": "error", "code": 503, "message": "实例未就绪", "error": "not_ready",
                "data": {"ready": false, "database": true, "migrations": true, "draining": true}})),
        (status = 400, response = BadRequest),
    ),
)]
pub async fn ready(
    state: web::Data<ApiState>,
    _: Query<NoQuery>,
) -> Result<HttpResponse, ApiError> {
    let readiness = state.ops.readiness().await;
    if readiness.ready() {
        Ok(ok("实例就绪", ReadinessData::from(readiness)))
    } else {
        Err(ApiError::new(ErrorCode::NotReady, "实例未就绪")
            .with_data(ReadinessData::from(readiness)))
    }
}

/// Configuration check (admin): database and migrations, platform, token secret, monitor.
#[utoipa::path(
    get,
    path = "/api/config-check",
    operation_id = "config_check",
    tag = "health",
    security(("access_token" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "The checks.", body = crate::envelope::Envelope<ConfigCheckDto>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = DatabaseUnavailable),
    ),
)]
pub async fn config_check(
    state: web::Data<ApiState>,
    _: Query<NoQuery>,
    auth: Auth,
) -> Result<HttpResponse, ApiError> {
    auth.require_admin()?;
    let checks = state.ops.config_check().await;
    Ok(ok(
        "配置检查完成",
        ConfigCheckDto {
            checks: checks.iter().map(CheckDto::from).collect(),
        },
    ))
}
