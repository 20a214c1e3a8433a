//! The success envelope.

use actix_web::HttpResponse;
use serde::Serialize;

/// The envelope as written: `data` is serialized straight into the body, with no intermediate
/// `serde_json::Value` tree.
#[derive(Serialize)]
struct Success<'a, T> {
    status: &'static str,
    code: u16,
    message: &'a str,
    data: T,
}

/// `{ "status": "success", "code": 200, "message": .., "data": .. }`.
pub fn ok<T: Serialize>(message: &str, data: T) -> HttpResponse {
    HttpResponse::Ok().json(Success {
        status: "success",
        code: 200,
        message,
        data,
    })
}
