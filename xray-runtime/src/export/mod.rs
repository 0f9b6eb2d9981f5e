//! Span exporters.
pub mod console;
pub mod json;
