//! End-to-end tests over HTTP against the real app and real PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod accounts;
mod audit;
mod auth;
mod backup;
mod balancer;
mod budget;
mod cli;
mod console;
mod demo;
mod exec;
mod export;
mod export_abandoned;
mod failure;
mod fencing;
mod health;
mod leads;
mod openapi;
mod restart;
mod security;
mod tasks;
mod tenancy;
mod tls;
mod webhooks;
