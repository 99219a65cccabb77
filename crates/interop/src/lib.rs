//! # bordin-interop
//!
//! How Bordin's data looks to other systems, as pure functions: instrument definitions, answers
//! and scores in and out of FHIR R4 JSON ([`fhir`]), and the research export / historical scores
//! CSV ([`research`]). Like `bordin-core` this crate does no I/O: callers pass parsed values or
//! bytes in and get resources, rows or errors out; clocks, databases and files stay outside.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod fhir;
pub mod research;
