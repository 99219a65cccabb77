//! The server from the outside: real HTTP against a server on a free port over a fresh SQLite
//! file, and a headless Chromium driven over WebDriver for what a person does on a phone.
//!
//! One test binary with modules inside (link time dominates small builds). Each test spawns its
//! own server through [`support::spawn_app`]; nothing is shared between tests but one password
//! hash. The end-to-end flows listed in `bordin_store::both_backends!` at the end of `links.rs`,
//! `scoring.rs`, `monitoring.rs` and `goals.rs` also run on PostgreSQL (`NAME::postgres`; see
//! `bordin_store::testing`).
//!
//! Browser tests need `chromium` and `chromedriver`; without them they print
//! "skipped: chromium not installed" and pass, unless `BORDIN_REQUIRE_BROWSER=1` is set (CI),
//! in which case they fail.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod access;
mod agreement;
mod agreement_signals;
mod audit;
mod basics;
mod browser;
mod consent;
mod credentials;
mod fhir;
mod goals;
mod hardening;
mod links;
mod live;
mod login;
mod matrix;
mod monitoring;
mod ops;
mod scoring;
mod transcripts;
