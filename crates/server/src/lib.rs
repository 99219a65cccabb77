//! # bordin-server
pub mod auth;
