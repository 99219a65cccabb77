//! Integration tests of the store, against a real database file.
//!
//! One test binary with modules inside. Every test opens its own database through
//! [`support::fresh_store`], which is the only place that knows the backend: when PostgreSQL
//! arrives, that helper learns to create a fresh database from a URL in the environment and the
//! tests run unchanged against both.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod audit;
mod caseload;
mod clinic;
mod connect;
mod goals;
mod isolation;
mod responses;
mod sealed;
mod text_packs;
