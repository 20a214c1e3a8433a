//! The pages, one module each, and what they share: rendering a template into an answer, and
//! the home page around a drawer ([`with_drawer`]).

mod account;
mod audit;
mod create;
mod detail;
mod export;
mod filter_form;
mod home;
mod leads;
mod login;
mod orgs;
mod scenes;
mod test_env;
mod users;
mod webhooks;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::error::{ConsoleError, is_htmx};
use crate::live;

/// Every page and fragment.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/login", web::get().to(login::page))
        .route("/login", web::post().to(login::login))
        .route("/logout", web::post().to(login::logout))
        .route("/", web::get().to(home::home))
        .route("/task-rows", web::get().to(home::rows))
        .route("/overview", web::get().to(home::overview))
        .route("/preview", web::get().to(create::preview))
        .route("/tasks", web::post().to(create::create))
        .route("/scenes", web::post().to(scenes::create))
        .route("/tasks/{id}", web::get().to(detail::drawer))
        .route("/tasks/{id}/results", web::get().to(detail::results))
        .route("/tasks/{id}/export", web::get().to(export::download))
        .route("/tasks/{id}/refresh", web::post().to(detail::refresh))
        .route("/tasks/{id}/script", web::post().to(detail::set_script))
        .route("/tasks/{id}/actions", web::get().to(detail::actions))
        .route(
            "/tasks/{id}/stop-confirm",
            web::get().to(detail::confirm_stop),
        )
        .route("/tasks/{id}/runs", web::post().to(detail::start_run))
        .route("/tasks/{id}/{action}", web::post().to(detail::act))
        .route("/tasks/{id}/live", web::get().to(live::task_stream))
        .route("/runs/{id}/live", web::get().to(live::run_stream))
        .route("/leads", web::get().to(leads::page))
        .route("/lead-rows", web::get().to(leads::rows))
        .route("/leads/import", web::post().to(leads::import))
        .route("/account", web::get().to(account::page))
        .route("/account/password", web::post().to(account::change))
        .route("/users", web::get().to(users::page))
        .route("/users", web::post().to(users::create))
        .route("/users/table", web::get().to(users::rows))
        .route("/users/{id}/update", web::post().to(users::update))
        .route("/users/{id}/{action}", web::post().to(users::act))
        .route("/audit", web::get().to(audit::page))
        .route("/webhooks", web::get().to(webhooks::page))
        .route("/webhooks", web::post().to(webhooks::create))
        .route("/webhooks/panel", web::get().to(webhooks::refresh))
        .route("/webhooks/{id}/{action}", web::post().to(webhooks::act))
        .route(
            "/webhook-deliveries/{id}/retry",
            web::post().to(webhooks::retry),
        )
        .route("/organizations", web::get().to(orgs::page))
        .route("/organizations", web::post().to(orgs::create))
        .route("/test-env", web::get().to(test_env::page))
        .route(
            "/test-env/login-check",
            web::post().to(test_env::login_check),
        )
        .route(
            "/test-env/monitor",
            web::post().to(test_env::monitor_switch),
        );
}

/// A rendered template as an answer with `status`.
pub fn html(status: StatusCode, t: impl Template) -> Result<HttpResponse, ConsoleError> {
    let body = t.render().map_err(|e| {
        tracing::error!(error = %e, "template did not render");
        ConsoleError::Internal
    })?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body))
}

/// A rendered template as a 200 answer.
pub fn ok(t: impl Template) -> Result<HttpResponse, ConsoleError> {
    html(StatusCode::OK, t)
}

/// Rendered template text, for embedding in another template.
pub fn text(t: impl Template) -> Result<String, ConsoleError> {
    t.render().map_err(|e| {
        tracing::error!(error = %e, "template did not render");
        ConsoleError::Internal
    })
}

/// Whether htmx asked for the drawer only (a link inside the console), not the whole page.
pub fn wants_drawer(req: &HttpRequest) -> bool {
    is_htmx(req)
        && req
            .headers()
            .get("hx-target")
            .is_some_and(|t| t == "drawer")
}

/// Unknown paths: the 404 page.
pub async fn not_found() -> Result<HttpResponse, ConsoleError> {
    Err(ConsoleError::NotFound)
}

pub use detail::{RunLine, RunLineView, RunView, TaskActions, TaskStats};
pub use home::with_drawer;
