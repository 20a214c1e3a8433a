//! The envelopes every answer is wrapped in, and the shapes of lists, as the types that are
//! both serialized and documented.

use actix_web::HttpResponse;
use kernel::{Page, Pagination};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

use crate::error::ErrorCode;
use crate::health::dto::HealthData;

/// `"success"`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SuccessStatus {
    /// Always `success`.
    Success,
}

/// `"error"`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ErrorStatus {
    /// Always `error`.
    Error,
}

/// The success envelope: `{status: "success", code: 200, message, data}`.
#[derive(Serialize, ToSchema)]
pub struct Envelope<T> {
    /// Always `success`.
    pub status: SuccessStatus,
    /// The HTTP status, 200.
    #[schema(minimum = 200, maximum = 200, example = 200)]
    pub code: u16,
    /// For people (Chinese).
    #[schema(example = "操作成功")]
    pub message: &'static str,
    /// The payload.
    pub data: T,
}

/// 200 with `data` in the success envelope; `message` says what happened, for people.
pub fn ok<T: Serialize>(message: &'static str, data: T) -> HttpResponse {
    HttpResponse::Ok().json(Envelope {
        status: SuccessStatus::Success,
        code: 200,
        message,
        data,
    })
}

fn null_schema() -> Object {
    ObjectBuilder::new().schema_type(Type::Null).build()
}

/// The error envelope: `{status: "error", code, message, error, data: null}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorEnvelope<'a> {
    /// Always `error`.
    pub status: ErrorStatus,
    /// The HTTP status.
    #[schema(minimum = 400, maximum = 599, example = 409)]
    pub code: u16,
    /// For people (Chinese); never a stack trace, SQL or secret.
    #[schema(example = "任务当前状态不允许开始外呼")]
    pub message: &'a str,
    /// Stable machine code.
    pub error: ErrorCode,
    /// `null`, but for health's 503 ([`HealthUnavailable`]).
    #[schema(schema_with = null_schema, required = true)]
    pub data: Option<&'a HealthData>,
}

/// The one error answer whose `data` is not null: health's 503.
#[derive(ToSchema)]
pub struct HealthUnavailable {
    /// Always `error`.
    pub status: ErrorStatus,
    /// 503.
    #[schema(minimum = 503, maximum = 503, example = 503)]
    pub code: u16,
    /// For people.
    #[schema(example = "数据库不可用")]
    pub message: String,
    /// `database_unavailable`.
    pub error: ErrorCode,
    /// The degraded report.
    pub data: HealthData,
}

/// A page: `items` plus `pagination` (a page past the end has empty `items` and the right totals).
#[derive(Serialize, ToSchema)]
pub struct Paged<T> {
    /// Items of this page.
    pub items: Vec<T>,
    /// Totals.
    pub pagination: Pagination,
}

impl<T> Paged<T> {
    /// A domain page, its items made DTOs by `f`.
    pub fn of<U>(page: Page<U>, f: impl FnMut(U) -> T) -> Self {
        Self {
            items: page.items.into_iter().map(f).collect(),
            pagination: page.pagination,
        }
    }
}

/// A list without paging: `{items}`.
#[derive(Serialize, ToSchema)]
pub struct Items<T> {
    /// The items.
    pub items: Vec<T>,
}

impl<T> Items<T> {
    /// Domain values, each made a DTO by `f`.
    pub fn of<U>(items: impl IntoIterator<Item = U>, f: impl FnMut(U) -> T) -> Self {
        Self {
            items: items.into_iter().map(f).collect(),
        }
    }
}
