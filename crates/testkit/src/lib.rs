//! # testkit
//!
//! Support for the tests of every crate, used only as a dev-dependency (and by the benchmark
//! tool), so none of it ships in the `outbound` binary:
//!
//! - [`balancer`]: haproxy in front of instances (configuration, servers' state),
//! - [`db`]: each test gets its own database, cloned from a template migrated once per set of
//!   migrations ([`TestDb`]),
//! - [`schema`]: checks a JSON answer against the schema the OpenAPI document gives it,
//! - [`tls`]: a cluster of its own serving TLS with certificates made by the test.
//!
//! The model is crates.io's test-database crate.

pub mod balancer;
pub mod db;
pub mod schema;
pub mod tls;

pub use db::{TestDb, test_cluster_dir};
