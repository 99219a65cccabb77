//! The `bordin` command's building blocks, as a library so that tests and benchmarks can drive
//! them directly. `main.rs` is a thin clap shell over these modules.

pub mod audit;
pub mod demo;
pub mod gas;
pub mod instruments;
pub mod interop;
pub mod keys;
pub mod listen;
pub mod load;
pub mod monitor;
pub mod ops;
pub mod score;
