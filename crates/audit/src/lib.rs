//! # audit
//!
//! The audit trail: every state-changing action (from the API, the console or the CLI) leaves
//! an [`Entry`]: when, who ([`Actor`]), in which organisation, what ([`Action`]), on what
//! ([`Target`]), with what outcome ([`Outcome`]: done, or the refusal's error code), the request
//! id and the client's address, and details that never hold a password, token, secret or whole
//! phone number.
//!
//! An action that changes the database writes its "ok" entry in its own transaction (the
//! adapters take the entry with the change), so a rolled-back action leaves none. Refusals and
//! actions without a transaction of their own (login, export) are written on their own through
//! [`AuditLog::record`]. The table refuses updates; only the retention removes entries.

mod entry;
mod service;

pub use entry::{Action, Actor, Entry, Outcome, Target};
pub use service::{AuditError, AuditQuery, AuditService, StoredEntry};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kernel::{OrgScope, Page, PageRequest, RepoError};

/// Storage of the trail.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait AuditLog: Send + Sync + 'static {
    /// Write one entry on its own (refusals, and actions without a transaction of their own).
    async fn record(&self, entry: &Entry) -> Result<(), RepoError>;
    /// Entries of `scope`'s organisations that match `query`, newest first (entries of no
    /// organisation, failed logins of unknown names, are no tenant's).
    async fn list(
        &self,
        scope: &OrgScope,
        query: &AuditQuery,
        page: PageRequest,
    ) -> Result<Page<StoredEntry>, RepoError>;
    /// Remove the entries older than `before`; how many.
    async fn purge(&self, before: DateTime<Utc>) -> Result<u64, RepoError>;
}
