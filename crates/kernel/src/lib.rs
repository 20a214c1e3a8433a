//! # kernel
//!
//! The small shared vocabulary every other crate of the service speaks:
//!
//! - identifiers ([`OrgId`], [`UserId`], [`LeadId`], [`TaskId`], [`TaskLeadId`], [`SceneId`],
//!   [`RunId`], [`BatchId`]), each its own type,
//! - [`OrgScope`]: the set of organisations a caller may see. Every repository method that reads
//!   or writes tenant data takes one, so tenancy cannot be forgotten by a handler,
//! - paging ([`PageRequest`], [`Page`]) with the contract's bounds (page from 1, size 1..=100),
//! - time: the [`Clock`] port (so tests control time) and the contract's timestamp format,
//! - who calls ([`Role`], [`Caller`]), what was not found ([`Entity`]), why an input was
//!   refused ([`Invalid`]), [`mask_phone`] and [`RepoError`].
//!
//! It depends on no IO crate and holds no business rule of its own.

mod caller;
mod entity;
mod error;
mod ids;
mod invalid;
mod page;
mod phone;
mod scope;
mod time;

pub use caller::{Caller, Origin, Role};
pub use entity::Entity;
pub use error::RepoError;
pub use ids::{
    BatchId, DeliveryId, LeadId, OrgId, RunId, SceneId, TaskId, TaskLeadId, UserId, WebhookId,
};
pub use invalid::Invalid;
pub use page::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page, PageError, PageRequest, Pagination};
pub use phone::mask_phone;
pub use scope::OrgScope;
#[cfg(any(test, feature = "mock"))]
pub use time::MockClock;
pub use time::{Clock, SystemClock, TIME_FORMAT, format_time, is_date_only, parse_time};
