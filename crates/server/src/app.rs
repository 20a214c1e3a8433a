//! The actix-web application: the HTTP adapters mounted side by side (the JSON API under `/api`,
//! the console at the root), with what they share: CORS, the client's address (see
//! `api::client`), a request id and one log line per request.

use std::time::Instant;

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpMessage, web};
use api::client::{ClientAddr, RequestId, TrustedProxies};
use api::{ApiSettings, ApiState};

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Largest accepted request body.
    pub body_limit: usize,
    /// CORS allow-list.
    pub cors_origins: Vec<String>,
    /// Whether the console's session cookie is marked `Secure`.
    pub cookie_secure: bool,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
}

/// Largest CSV file the console accepts.
pub const CONSOLE_UPLOAD_LIMIT: usize = 64 * 1024 * 1024;

async fn log_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    req.extensions_mut().insert(RequestId(id.clone()));
    let client = match (req.peer_addr(), req.app_data::<web::Data<TrustedProxies>>()) {
        (Some(peer), Some(trusted)) => Some(trusted.client(peer.ip(), req.headers())),
        (Some(peer), None) => Some(peer.ip()),
        (None, _) => None,
    };
    if let Some(addr) = client {
        req.extensions_mut().insert(ClientAddr(addr));
    }
    let client = client.map(|a| a.to_string()).unwrap_or_default();
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
                tracing::warn!(request_id = %id, %client, %method, %path, status, latency_ms, "request");
            } else {
                tracing::info!(request_id = %id, %client, %method, %path, status, latency_ms, "request");
            }
        }
        Err(e) => {
            tracing::warn!(request_id = %id, %client, %method, %path, error = %e, latency_ms, "request failed")
        }
    }
    res
}

fn cors(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(vec!["GET", "POST", "OPTIONS"])
        .allowed_headers(vec!["access-token", "authorization", "content-type"])
        .max_age(3600);
    for o in origins {
        cors = if o == "*" {
            cors.allow_any_origin()
        } else {
            cors.allowed_origin(o)
        };
    }
    cors
}

/// Build the application for one worker thread.
pub fn build(
    state: web::Data<ApiState>,
    http: HttpSettings,
    console: console::Console,
) -> App<
    impl actix_web::dev::ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let api = ApiSettings {
        body_limit: http.body_limit,
    };
    App::new()
        .app_data(state)
        .app_data(web::Data::new(http.trusted_proxies.clone()))
        .wrap(cors(&http.cors_origins))
        .wrap(from_fn(log_requests))
        .configure(|cfg| api::configure(cfg, &api))
        .configure(|cfg| console::configure(cfg, console))
}
