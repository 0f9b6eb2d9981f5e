//! AWS X-Ray tracing for Rust in one dependency.
//!
//! ```no_run
//! use xray_runtime::{traced, xray_main, xray_root};
//!
//! #[xray_main(service = "checkout")]
//! fn main() {
//!     handle("order-7");
//! }
//!
//! #[xray_root(kind = server)]
//! fn handle(order: &str) {
//!     load(order);
//! }
//!
//! #[traced(args(order), annotations(tier = "gold"))]
//! fn load(order: &str) {}
//! ```
//!
//! * [`traced`] wraps a function (sync or async, free or method, generic or
//!   not) in a span that is current for everything it calls.
//! * [`xray_root`] starts a trace, or continues the caller's from an incoming
//!   `X-Amzn-Trace-Id` header.
//! * [`xray_main`] installs the provider around `main` and flushes every span
//!   on exit, error return or panic. [`init`] does the same for code that
//!   cannot put an attribute on `main`.
//!
//! # Configuration
//!
//! Options given in code are defaults; standard environment variables win:
//!
//! | setting | variable | default |
//! | --- | --- | --- |
//! | service name | `OTEL_SERVICE_NAME`, `service.name` in `OTEL_RESOURCE_ATTRIBUTES` | the package name |
//! | exporter | `OTEL_TRACES_EXPORTER` (`otlp`, `console`, `json`, `none`) | `otlp` if an OTLP endpoint variable is set, else `console` |
//! | OTLP endpoint | `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | `http://localhost:4318` (HTTP), `:4317` (gRPC) |
//! | OTLP protocol | `OTEL_EXPORTER_OTLP_PROTOCOL`, `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` (`grpc`, `http/protobuf`) | `http/protobuf` |
//! | propagators | `OTEL_PROPAGATORS` (`xray`, `xray-lambda`, `tracecontext`, `baggage`, `none`) | `xray,tracecontext` |
//! | sampler | `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG` | `parentbased_always_on` |
//! | shutdown timeout | `OTEL_BSP_EXPORT_TIMEOUT` (ms) | 5000 |
//! | everything off | `OTEL_SDK_DISABLED=true` | on |
//!
//! OTLP headers, timeout and compression (`OTEL_EXPORTER_OTLP_HEADERS`, ...)
//! and the batch processor's `OTEL_BSP_*` limits are read as the
//! OpenTelemetry specification says.
#![warn(missing_docs)]

extern crate self as xray_runtime;

pub use xray_macros::{traced, xray_main, xray_root};

mod config;
pub mod export;
mod id;
mod private;
pub mod propagation;
mod provider;
mod span;
#[cfg(feature = "testing")]
pub mod testing;
mod value;

pub use config::{
    Config, DEFAULT_PROPAGATORS, DEFAULT_SHUTDOWN_TIMEOUT, ExporterKind, Protocol, SamplerKind,
};
pub use id::XrayIdGenerator;
pub use provider::{FlushError, Guard, flush, init};
pub use span::{
    ANNOTATIONS_KEY, CANCELLED_KEY, InvalidAnnotationKey, add_event, annotate, current_span_id,
    current_trace_header, current_trace_id, is_valid_annotation_key, record_error, set_attribute,
};
pub use value::{AnnotationValue, AttributeValue, MAX_VALUE_LEN};

/// Support for the macros' expansions. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::private::*;
}
