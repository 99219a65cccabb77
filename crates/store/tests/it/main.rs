//! Integration tests of the store, against a real database file.
//!
//! One test binary with modules inside. Every test opens its own database through
//! [`support::fresh_store`], which is the only place that knows the backend. Each test body is
//! declared twice by `both_backends!` (`NAME::sqlite`, `NAME::postgres`): the PostgreSQL run
//! uses a fresh database on the server named by `BORDIN_TEST_PG_URL`, is skipped when that is
//! unset, and fails instead when `BORDIN_REQUIRE_PG=1` (as `.ci/run` sets).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod audit;
mod backup;
mod caseload;
mod clinic;
mod concurrency;
mod connect;
mod goals;
mod isolation;
mod privacy;
mod responses;
mod sealed;
mod series;
mod text_packs;
mod transcripts;
