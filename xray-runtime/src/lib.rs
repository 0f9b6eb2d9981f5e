//! AWS X-Ray tracing for Rust in one dependency.
#![warn(missing_docs)]

extern crate self as xray_runtime;

pub use xray_macros::{traced, xray_main, xray_root};

pub mod export;
pub mod propagation;
