//! The console in a real browser (see `harness`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod accounts;
mod flow;
mod harness;
mod leads;
mod safety;
mod screenshots;
