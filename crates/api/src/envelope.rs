//! The success envelope and the shapes of lists, as the types that are both serialized and
//! documented (the error envelope is in [`crate::error`]).

use actix_web::HttpResponse;
use kernel::{Page, Pagination};
use serde::Serialize;
use utoipa::ToSchema;

/// `"success"`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SuccessStatus {
    /// Always `success`.
    Success,
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
