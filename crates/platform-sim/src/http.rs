//! The HTTP face: the wire protocol at `/` and the `/sim/*` control endpoints.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

use crate::FaultUpdate;
use crate::sign::parse_form;
use crate::state::{Admission, ApiError, Payload, Simulator};

/// Serves the wire protocol at `/` (POST form body, or GET query string) and `GET /sim/stats`,
/// `POST /sim/reset`, `GET|POST /sim/faults` on `listener` with `workers` actix workers (at
/// least 1) and signals disabled. The returned server must be awaited or spawned by the caller.
pub fn serve(
    sim: Arc<Simulator>,
    listener: TcpListener,
    workers: usize,
) -> std::io::Result<Server> {
    let data = web::Data::from(sim);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(16 << 20))
            .route("/sim/stats", web::get().to(stats))
            .route("/sim/reset", web::post().to(reset))
            .route("/sim/faults", web::get().to(faults_get))
            .route("/sim/faults", web::post().to(faults_post))
            .route("/", web::get().to(wire))
            .route("/", web::post().to(wire))
    })
    .workers(workers.max(1))
    // idle connections are kept as a vendor's gateway keeps them (nginx's default), not actix's
    // 5 s: a client that stalls for a few seconds finds its connection still there, as it would
    .keep_alive(std::time::Duration::from_secs(75))
    .disable_signals()
    .listen(listener)?
    .run())
}

fn answer(rid: String, result: Result<Payload, ApiError>) -> HttpResponse {
    let (status, code, message, payload) = match result {
        Ok(p) => (200, "OK", "Success".to_owned(), p),
        Err(e) => (e.status, e.code, e.message, Payload::new()),
    };
    let mut body = json!({
        "RequestId": rid,
        "Success": status == 200,
        "Code": code,
        "Message": message,
        "HttpStatusCode": status,
    });
    if let Value::Object(m) = &mut body {
        m.extend(payload);
    }
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .json(body)
}

async fn wire(req: HttpRequest, body: web::Bytes, sim: web::Data<Simulator>) -> HttpResponse {
    let method = req.method().as_str().to_ascii_uppercase();
    let mut params = parse_form(req.query_string());
    if method == "POST" {
        params.extend(parse_form(&String::from_utf8_lossy(&body)));
    }
    let latency = match sim.admit() {
        Admission::Throttled => {
            return answer(
                sim.request_id(),
                Err(ApiError {
                    status: 429,
                    code: "Throttling",
                    message: "Request was denied due to request throttling.".into(),
                }),
            );
        }
        Admission::Failed => {
            return answer(
                sim.request_id(),
                Err(ApiError {
                    status: 500,
                    code: "InternalError",
                    message:
                        "The request processing has failed due to some unknown error (injected)."
                            .into(),
                }),
            );
        }
        Admission::Proceed(d) => d,
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let (rid, result, stall) = sim.handle(&method, &params);
    if let Err(e) = &result {
        tracing::debug!(code = e.code, message = %e.message, "platform-sim rejected a request");
    }
    if let Some(d) = stall {
        tokio::time::sleep(d).await;
    }
    answer(rid, result)
}

async fn stats(sim: web::Data<Simulator>) -> HttpResponse {
    HttpResponse::Ok().json(sim.stats())
}

async fn reset(sim: web::Data<Simulator>) -> HttpResponse {
    sim.reset();
    HttpResponse::Ok().json(sim.stats())
}

fn knobs(sim: &Simulator) -> Value {
    let c = sim.config();
    json!({
        "fail_rate": c.fail_rate,
        "timeout_rate": c.timeout_rate,
        "timeout_delay_ms": c.timeout_delay_ms,
        "latency_ms": c.latency_ms,
        "throttle_qps": c.throttle_qps,
        "call_ms": c.call_ms,
        "concurrency": c.concurrency,
    })
}

async fn faults_get(sim: web::Data<Simulator>) -> HttpResponse {
    HttpResponse::Ok().json(knobs(&sim))
}

async fn faults_post(body: web::Bytes, sim: web::Data<Simulator>) -> HttpResponse {
    let update = if body.iter().all(u8::is_ascii_whitespace) {
        Ok(FaultUpdate::default())
    } else {
        serde_json::from_slice::<FaultUpdate>(&body)
    };
    match update {
        Ok(f) => {
            sim.set_faults(f);
            HttpResponse::Ok().json(knobs(&sim))
        }
        Err(e) => HttpResponse::BadRequest().json(json!({ "error": e.to_string() })),
    }
}
