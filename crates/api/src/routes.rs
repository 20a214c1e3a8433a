//! The routes of the API. [`ENDPOINTS`] is their one list: [`configure`] mounts it, and the
//! OpenAPI drift test (`tests/openapi_drift.rs`) compares it with the generated document, so a
//! route cannot be added without documenting it.

use actix_web::http::Method;
use actix_web::http::header::{ALLOW, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, Route, web};

use crate::error::{ApiError, ErrorCode};
use crate::extract::{json_error, path_error, query_error};
use crate::{accounts, auth, execution, export, health, leads, openapi, tasks, webhooks};

/// Prefix of every route of the API.
pub const PREFIX: &str = "/api";

/// Settings of the API's HTTP layer.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Largest accepted request body, bytes (larger: 413).
    pub body_limit: usize,
}

/// One route of the API.
pub struct Endpoint {
    /// HTTP method.
    pub method: Method,
    /// Path below [`PREFIX`], e.g. `/health`.
    pub path: &'static str,
    /// Attaches the handler to a route of [`Endpoint::method`].
    handler: fn(Route) -> Route,
}

impl Endpoint {
    /// The full path, e.g. `/api/health`.
    pub fn full_path(&self) -> String {
        format!("{PREFIX}{}", self.path)
    }
}

const fn get(path: &'static str, handler: fn(Route) -> Route) -> Endpoint {
    Endpoint {
        method: Method::GET,
        path,
        handler,
    }
}

const fn post(path: &'static str, handler: fn(Route) -> Route) -> Endpoint {
    Endpoint {
        method: Method::POST,
        path,
        handler,
    }
}

/// Every route of the API, in mounting order.
pub const ENDPOINTS: &[Endpoint] = &[
    get("/health", |r| r.to(health::health)),
    get("/health/live", |r| r.to(health::live)),
    get("/health/ready", |r| r.to(health::ready)),
    post("/login", |r| r.to(auth::login)),
    get("/auth/verify", |r| r.to(auth::verify)),
    get("/organizations", |r| r.to(auth::organizations)),
    post("/organizations", |r| r.to(auth::create_organization)),
    post("/logout", |r| r.to(accounts::logout)),
    post("/me/password", |r| r.to(accounts::change_password)),
    get("/users", |r| r.to(accounts::list)),
    post("/users", |r| r.to(accounts::create)),
    post("/users/update", |r| r.to(accounts::update)),
    post("/users/disable", |r| r.to(accounts::disable)),
    post("/users/enable", |r| r.to(accounts::enable)),
    post("/users/reset-password", |r| r.to(accounts::reset_password)),
    post("/leads/import", |r| r.to(leads::import)),
    get("/leads", |r| r.to(leads::list)),
    get("/leads/statistics", |r| r.to(leads::statistics)),
    post("/leads/preview", |r| r.to(leads::preview)),
    post("/create-autoCall-tasks", |r| r.to(tasks::create)),
    get("/task_list", |r| r.to(tasks::task_list)),
    get("/tasks", |r| r.to(tasks::recent)),
    get("/task-stats", |r| r.to(tasks::stats)),
    post("/update-script-id", |r| r.to(tasks::update_script)),
    post("/create_scene", |r| r.to(tasks::create_scene)),
    get("/scenes", |r| r.to(tasks::scenes)),
    post("/start-call-task", |r| r.to(execution::start)),
    post("/suspend-resume-task", |r| r.to(execution::suspend_resume)),
    post("/stop-call-task", |r| r.to(execution::stop)),
    post("/query-task-execution", |r| r.to(execution::executions)),
    get("/export-task-results", |r| r.to(export::export)),
    get("/get-leads-follow", |r| r.to(execution::follow)),
    get("/task-statistics", |r| r.to(execution::statistics)),
    post("/start-query-execution-run", |r| r.to(execution::start_run)),
    get("/get-query-execution-run", |r| r.to(execution::get_run)),
    post("/auto-task", |r| r.to(execution::auto_task)),
    get("/config-check", |r| r.to(health::config_check)),
    get("/audit-log", |r| r.to(crate::audit::audit_log)),
    post("/webhooks", |r| r.to(webhooks::create)),
    get("/webhooks", |r| r.to(webhooks::list)),
    post("/webhooks/update", |r| r.to(webhooks::update)),
    post("/webhooks/delete", |r| r.to(webhooks::delete)),
    post("/webhooks/rotate-secret", |r| r.to(webhooks::rotate)),
    post("/webhooks/test", |r| r.to(webhooks::test)),
    get("/webhook-deliveries", |r| r.to(webhooks::deliveries)),
    post("/webhook-deliveries/retry", |r| r.to(webhooks::retry)),
];

/// Mount the API: the OpenAPI document and Swagger UI, then every route of [`ENDPOINTS`]
/// under [`PREFIX`], with the API's answers to malformed bodies, queries and paths and to
/// unknown paths below [`PREFIX`]. The app must hold a `web::Data<ApiState>`.
pub fn configure(cfg: &mut web::ServiceConfig, settings: &ApiSettings) {
    openapi::configure(cfg);
    let scope = web::scope(PREFIX)
        .app_data(
            web::JsonConfig::default()
                .limit(settings.body_limit)
                .error_handler(|e, _| json_error(e).into()),
        )
        .app_data(web::QueryConfig::default().error_handler(|e, _| query_error(e).into()))
        .app_data(web::PathConfig::default().error_handler(|e, _| path_error(e).into()))
        .app_data(web::PayloadConfig::default().limit(settings.body_limit))
        .default_service(web::to(not_found));
    let scope = ENDPOINTS.iter().fold(scope, |scope, e| {
        scope.route(e.path, (e.handler)(web::method(e.method.clone())))
    });
    cfg.service(scope);
}

/// No route matched: 405 with `Allow` when the path exists under another method, else 404.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    let allowed: Vec<&str> = ENDPOINTS
        .iter()
        .filter(|e| e.full_path() == req.path())
        .map(|e| e.method.as_str())
        .collect();
    if allowed.is_empty() || req.method() == Method::OPTIONS {
        return ApiError::no_such_path().error_response();
    }
    let mut res = ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!("该接口不支持 {} 方法", req.method()),
    )
    .error_response();
    if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
        res.headers_mut().insert(ALLOW, v);
    }
    res
}
