//! Span exporters, and what the export thread hands them.
//!
//! * `lane`: what the export thread hands an exporter, and how it answers;
//! * `console` and `json`: print spans on stdout (public, usable on their own);
//! * `exporter_lane`: any `SpanExporter` run on its own thread;
//! * `otlp`: OTLP over gRPC or HTTP/protobuf, encoded from the span records;
//! * `boxed`: a `SpanExporter` chosen at run time;
//! * `span_data`: a finished span record as OpenTelemetry's `SpanData`;
//! * `block_on`: an exporter's future run on the calling thread.
//!
//! Nothing here reads the configuration or the provider: what an exporter
//! needs is passed to it.

mod block_on;
mod boxed;
pub mod console;
mod exporter_lane;
pub mod json;
pub(crate) mod lane;
pub(crate) mod otlp;
mod span_data;

pub(crate) use boxed::BoxedExporter;
pub use console::ConsoleExporter;
pub(crate) use exporter_lane::ExporterLane;
pub use json::JsonExporter;
pub(crate) use otlp::OtlpLane;
pub use otlp::Protocol;
