//! End-to-end tests over HTTP against the real app and real PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod exec;
mod leads;
mod restart;
mod tasks;
mod tenancy;
