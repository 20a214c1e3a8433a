//! HTTP routes: one module per area, each handler a thin translation to a domain service call.
//!
//! [`ENDPOINTS`] is the one list of the API's routes: [`configure`] mounts it, and the OpenAPI
//! drift test (`tests/openapi_drift.rs`) compares it with the generated document
//! ([`crate::openapi::ApiDoc`]), so a route cannot be added without documenting it.

pub mod auth;
pub mod exec;
pub mod leads;
pub mod tasks;

use actix_web::http::Method;
use actix_web::{Route, web};

/// Prefix of every route of the API.
pub const PREFIX: &str = "/api";

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
    get("/health", |r| r.to(auth::health)),
    post("/login", |r| r.to(auth::login)),
    get("/auth/verify", |r| r.to(auth::verify)),
    get("/organizations", |r| r.to(auth::organizations)),
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
    post("/start-call-task", |r| r.to(exec::start)),
    post("/suspend-resume-task", |r| r.to(exec::suspend_resume)),
    post("/stop-call-task", |r| r.to(exec::stop)),
    post("/query-task-execution", |r| r.to(exec::executions)),
    get("/get-leads-follow", |r| r.to(exec::follow)),
    get("/task-statistics", |r| r.to(exec::statistics)),
    post("/start-query-execution-run", |r| r.to(exec::start_run)),
    get("/get-query-execution-run", |r| r.to(exec::get_run)),
    post("/auto-task", |r| r.to(exec::auto_task)),
    get("/config-check", |r| r.to(exec::config_check)),
];

/// Mount every route of [`ENDPOINTS`] under [`PREFIX`].
pub fn configure(cfg: &mut web::ServiceConfig) {
    let scope = ENDPOINTS.iter().fold(web::scope(PREFIX), |scope, e| {
        scope.route(e.path, (e.handler)(web::method(e.method.clone())))
    });
    cfg.service(scope);
}
