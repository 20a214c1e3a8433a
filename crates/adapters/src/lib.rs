//! # adapters
//!
//! The IO side of the service: implementations of the domain crates' ports.
//!
//! - [`backup`]: `pg_dump` / `pg_restore` of the whole database (the CLI's backup and restore),
//! - [`db`]: the deadpool pool of diesel-async PostgreSQL connections (`statement_timeout` set
//!   per connection, fast 503 when the database is down), embedded migrations,
//! - [`pg_auth`], [`pg_leads`], [`pg_tasks`]: the repositories (diesel query builder, bound
//!   parameters, every tenant query scoped by [`kernel::OrgScope`]),
//! - [`pg_exec`]: the repositories of execution, one per port (lifecycle, leases, batches,
//!   results, runs),
//! - [`platform`]: the outbound-call platform's HTTP client (signing, retries, ambiguity, the
//!   account's request budget), [`pg_budget`]: that budget shared by instances in PostgreSQL,
//! - [`probe`]: what the configuration check measures,
//! - [`security`]: argon2id password hashing and HS256 JWT tokens,
//! - [`embedded`]: the private PostgreSQL cluster of the embedded default.
//!
//! `schema.rs` is generated from `migrations/` by `diesel print-schema` and committed.

pub mod backup;
pub mod db;
pub mod embedded;
pub mod pg_audit;
pub mod pg_auth;
pub mod pg_budget;
pub mod pg_connect;
pub mod pg_exec;
pub mod pg_leads;
pub mod pg_tasks;
pub mod pg_throttle;
pub mod pg_webhooks;
pub mod platform;
pub mod probe;
pub mod schema;
pub mod security;
pub mod webhook_sender;
