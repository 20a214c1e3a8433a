//! # server
//!
//! The `outbound` binary, thin: it reads configuration ([`config`]), boots ([`boot`]: the
//! database, migrations, the token secret, the platform), wires adapters into services
//! ([`state`]), runs the background workers ([`workers`]) and mounts the HTTP adapters
//! ([`app`]: the JSON API of the `api` crate). The command line (`main.rs`) adds the
//! administrative commands ([`csv_import`]) and the demo data ([`demo`]).

pub mod accounts_cli;
pub mod app;
pub mod backup_cli;
pub mod boot;
pub mod config;
pub mod csv_import;
pub mod demo;
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

/// Start serving `state` on `listener` with `workers` threads.
pub fn serve(
    state: AppState,
    http: HttpSettings,
    listener: TcpListener,
    workers: usize,
) -> std::io::Result<Running> {
    let addr = listener.local_addr()?;
    let data = web::Data::new(state.api);
    let console = console::Console {
        settings: console::ConsoleSettings {
            cookie_secure: http.cookie_secure,
            upload_limit: app::CONSOLE_UPLOAD_LIMIT,
        },
        live: std::sync::Arc::new(console::Live::default()),
    };
    let server = HttpServer::new(move || app::build(data.clone(), http.clone(), console.clone()))
        .on_connect(api::export::peer::on_connect)
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
