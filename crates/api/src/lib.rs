//! # api
//!
//! The JSON API of `outbound` (docs/api.md): an HTTP adapter that only translates. A handler
//! deserializes its request into a DTO, calls one domain service, and answers with a typed DTO
//! in the contract's envelope; domain errors are worded (in Chinese) by [`ApiError`].
//!
//! - [`configure`] mounts everything under `/api` (the routes of [`routes::ENDPOINTS`], the
//!   OpenAPI document and Swagger UI) with the API's own body and query error handling,
//! - one module per area, each with its handlers and, beside them, its DTOs (`dto.rs`):
//!   [`health`], [`auth`], [`leads`], [`tasks`], [`execution`],
//! - [`openapi`] assembles the document from the handlers' `#[utoipa::path]` attributes and
//!   the error responses of [`responses`],
//! - [`error`] is the one error answer, [`words`] says domain errors in words,
//! - [`extract`]: the caller behind a token, JSON bodies and query strings with the contract's
//!   400s.
//!
//! It depends on the domain crates only: a handler never reaches an adapter (the state holds
//! services and ports, never a database pool).

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod client;
pub mod envelope;
pub mod error;
pub mod execution;
pub mod export;
pub mod extract;
pub mod health;
pub mod leads;
pub mod openapi;
pub mod responses;
pub mod routes;
mod state;
pub mod tasks;
pub mod webhooks;
pub mod words;

pub use error::{ApiError, ErrorCode};
pub use routes::{ApiSettings, configure};
pub use state::ApiState;
