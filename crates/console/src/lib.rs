//! # console
//!
//! The operator's console (docs/console.md): server-rendered pages in Chinese over the same
//! domain services as the JSON API, a second HTTP adapter beside it. Pages are askama templates
//! (`templates/`), made live with htmx and its SSE extension, both vendored (`static/`) and
//! served from the binary.
//!
//! - [`configure`] mounts every page and fragment at the root, below the API's `/api`,
//! - [`session`]: the API's token in an HttpOnly cookie; a request without a valid one is led to
//!   `/login` and back,
//! - [`guard`]: what every answer carries (Content-Security-Policy and friends) and the CSRF check
//!   of every state-changing request,
//! - [`live`]: task statistics watched once per task however many pages show them, sent as
//!   Server-Sent Events,
//! - `pages`: one module per page (login, home with its drawers, task detail, leads,
//!   test-env), each with its handlers and view types beside them.
//!
//! Like the API it reaches no adapter: it holds the [`api::ApiState`] of domain services, and
//! words domain errors through [`api::words`], so a message reads the same in both.

mod assets;
mod error;
pub mod guard;
pub mod live;
mod pages;
pub mod session;
mod views;

use std::sync::Arc;

use actix_web::web;

pub use error::ConsoleError;
pub use live::Live;

/// Settings of the console.
#[derive(Debug, Clone)]
pub struct ConsoleSettings {
    /// Whether the session cookie is marked `Secure` (sent over HTTPS only).
    pub cookie_secure: bool,
    /// Largest CSV upload, bytes.
    pub upload_limit: usize,
}

/// What the console's handlers share across worker threads.
#[derive(Clone)]
pub struct Console {
    /// Settings.
    pub settings: ConsoleSettings,
    /// The live statistics hub.
    pub live: Arc<Live>,
}

/// Mount the console at the root. The app must hold a `web::Data<ApiState>`; the API's scope is
/// mounted before it, so `/api/…` never reaches a console route.
pub fn configure(cfg: &mut web::ServiceConfig, console: Console) {
    let upload_limit = console.settings.upload_limit;
    cfg.service(assets::scope());
    cfg.service(
        web::scope("")
            .app_data(web::Data::new(console))
            .app_data(
                web::FormConfig::default()
                    .limit(64 * 1024)
                    .error_handler(|e, _| ConsoleError::bad_input(format!("表单无效: {e}")).into()),
            )
            .app_data(
                web::QueryConfig::default().error_handler(|e, _| {
                    ConsoleError::bad_input(format!("查询参数无效: {e}")).into()
                }),
            )
            .app_data(
                web::PathConfig::default().error_handler(|_, _| ConsoleError::NotFound.into()),
            )
            .app_data(web::PayloadConfig::default().limit(upload_limit))
            .wrap(actix_web::middleware::from_fn(guard::csrf))
            .wrap(actix_web::middleware::from_fn(error::render))
            .wrap(actix_web::middleware::from_fn(guard::headers))
            .configure(pages::configure)
            .default_service(web::to(pages::not_found)),
    );
}
