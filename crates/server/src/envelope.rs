//! The success envelope.

use actix_web::HttpResponse;
use serde::Serialize;
use serde_json::json;

/// `{ "status": "success", "code": 200, "message": .., "data": .. }`.
pub fn ok<T: Serialize>(message: &str, data: T) -> HttpResponse {
    HttpResponse::Ok()
        .json(json!({ "status": "success", "code": 200, "message": message, "data": data }))
}
