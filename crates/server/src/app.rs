//! The actix-web application: routes, body limits, contract errors for bad input, request logs.

use std::time::Instant;

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::{JsonPayloadError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpMessage, HttpResponse, web};

use crate::error::ApiError;
use crate::state::AppState;
use actix_web::ResponseError;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Largest accepted request body.
    pub body_limit: usize,
    /// CORS allow-list.
    pub cors_origins: Vec<String>,
}

fn json_error(err: JsonPayloadError) -> ApiError {
    match err {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "请求体过大",
            )
        }
        JsonPayloadError::ContentType => {
            ApiError::bad_request("请求体必须是 JSON（Content-Type: application/json）")
        }
        JsonPayloadError::Deserialize(e) => ApiError::bad_request(format!("请求参数无效: {e}")),
        other => ApiError::bad_request(format!("请求体无效: {other}")),
    }
}

fn query_error(err: QueryPayloadError) -> ApiError {
    match err {
        QueryPayloadError::Deserialize(e) => ApiError::bad_request(format!("查询参数无效: {e}")),
        other => ApiError::bad_request(format!("查询参数无效: {other}")),
    }
}

/// A request id for log correlation.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

async fn log_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().to_string();
    let path = req.path().to_owned();
    let start = Instant::now();
    let span = tracing::info_span!("request", id = %id);
    let res = tracing::Instrument::instrument(next.call(req), span.clone()).await;
    let latency_ms = start.elapsed().as_secs_f64() * 1000.0;
    match &res {
        Ok(r) => {
            let status = r.status().as_u16();
            if status >= 500 {
                tracing::warn!(request_id = %id, %method, %path, status, latency_ms, "request");
            } else {
                tracing::info!(request_id = %id, %method, %path, status, latency_ms, "request");
            }
        }
        Err(e) => {
            tracing::warn!(request_id = %id, %method, %path, error = %e, latency_ms, "request failed")
        }
    }
    res
}

/// No route matched: 405 with `Allow` when the path exists under another method, else 404.
async fn not_found(req: actix_web::HttpRequest) -> HttpResponse {
    let allowed: Vec<&str> = crate::routes::ENDPOINTS
        .iter()
        .filter(|e| e.full_path() == req.path())
        .map(|e| e.method.as_str())
        .collect();
    if allowed.is_empty() || req.method() == actix_web::http::Method::OPTIONS {
        return ApiError::new(StatusCode::NOT_FOUND, "not_found", "接口不存在").error_response();
    }
    let mut res = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("该接口不支持 {} 方法", req.method()),
    )
    .error_response();
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&allowed.join(", ")) {
        res.headers_mut().insert(actix_web::http::header::ALLOW, v);
    }
    res
}

/// Build the application for one worker.
pub fn build(
    state: web::Data<AppState>,
    http: HttpSettings,
) -> App<
    impl actix_web::dev::ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let mut cors = Cors::default()
        .allowed_methods(vec!["GET", "POST", "OPTIONS"])
        .allowed_headers(vec!["access-token", "authorization", "content-type"])
        .max_age(3600);
    for o in &http.cors_origins {
        cors = if o == "*" {
            cors.allow_any_origin()
        } else {
            cors.allowed_origin(o)
        };
    }
    App::new()
        .app_data(state)
        .app_data(
            web::JsonConfig::default()
                .limit(http.body_limit)
                .error_handler(|e, _| json_error(e).into()),
        )
        .app_data(web::QueryConfig::default().error_handler(|e, _| query_error(e).into()))
        .app_data(web::PayloadConfig::default().limit(http.body_limit))
        .wrap(cors)
        .wrap(from_fn(log_requests))
        .configure(crate::openapi::configure)
        .configure(crate::routes::configure)
        .default_service(web::to(not_found))
}
