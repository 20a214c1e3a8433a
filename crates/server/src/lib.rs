//! # server
//!
//! The `outbound` binary: configuration, command line, the actix-web HTTP API and the background
//! workers, wired to the domain services over the adapters.
//!
//! - [`config`]: typed configuration from the environment,
//! - [`boot`]: connect (embedded PostgreSQL or `DATABASE_URL`), migrate, seed the demo,
//! - [`app`] and [`routes`]: the HTTP contract of `shared/spec/api.md`,
//! - [`error`]: the one [`error::ApiError`] mapping domain errors to the envelope,
//! - [`serve`]: run the HTTP server (also used by end-to-end tests on port 0).

pub mod app;
pub mod boot;
pub mod checks;
pub mod config;
pub mod csv_import;
pub mod demo;
pub mod envelope;
pub mod error;
pub mod extract;
pub mod openapi;
pub mod routes;
pub mod state;
pub mod workers;

use std::net::TcpListener;

use actix_web::{HttpServer, web};

pub use app::HttpSettings;
pub use state::{AppOptions, AppState};

/// A running HTTP server.
pub struct Running {
    /// The bound address.
    pub addr: std::net::SocketAddr,
    /// The server handle (stop it with `handle.stop(true)`).
    pub handle: actix_web::dev::ServerHandle,
    /// Resolves when the server stops.
    pub server: actix_web::dev::Server,
}

/// Start serving `state` on `listener`.
pub fn serve(
    state: AppState,
    http: HttpSettings,
    listener: TcpListener,
    workers: usize,
) -> std::io::Result<Running> {
    let addr = listener.local_addr()?;
    let data = web::Data::new(state);
    let server = HttpServer::new(move || app::build(data.clone(), http.clone()))
        .workers(workers.max(1))
        .shutdown_timeout(8)
        .disable_signals()
        .listen(listener)?
        .run();
    Ok(Running {
        addr,
        handle: server.handle(),
        server,
    })
}
