//! Span exporters, and what the export thread hands them.
//!
//! * `console` and `json`: print spans on stdout (public, usable on their own);
//! * `otlp`: OTLP over gRPC or HTTP/protobuf to a collector;
//! * `boxed`: any of them behind one type that counts losses;
//! * `span_data`: a finished span record as OpenTelemetry's `SpanData`.
//!
//! Nothing here reads the configuration or the provider: what an exporter
//! needs is passed to it.

mod boxed;
pub mod console;
pub mod json;
pub(crate) mod otlp;
mod span_data;

pub(crate) use boxed::BoxedExporter;
pub use console::ConsoleExporter;
pub use json::JsonExporter;
pub use otlp::Protocol;
pub(crate) use span_data::span_data;
