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
//! | exporter | `OTEL_TRACES_EXPORTER` (`otlp`, `xray`, `console`, `json`, `none`) | `otlp` if an OTLP endpoint variable is set, else `console` |
//! | OTLP endpoint | `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | `http://localhost:4318` (HTTP), `:4317` (gRPC) |
//! | OTLP protocol | `OTEL_EXPORTER_OTLP_PROTOCOL`, `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` (`grpc`, `http/protobuf`) | `http/protobuf` |
//! | propagators | `OTEL_PROPAGATORS` (`xray`, `xray-lambda`, `tracecontext`, `baggage`, `none`) | `xray,tracecontext` |
//! | sampler | `OTEL_TRACES_SAMPLER` (incl. `xray`: X-Ray's sampling rules, see [`XraySampling`]), `OTEL_TRACES_SAMPLER_ARG` | `parentbased_always_on` |
//! | shutdown timeout | `OTEL_BSP_EXPORT_TIMEOUT` (ms) | 5000 |
//! | resource detectors | `OTEL_RESOURCE_DETECTORS` (`lambda`, `elastic_beanstalk`, `eks`, `ecs`, `ec2`, `all`, `none`) | all (each on its own platform only) |
//! | logs ([`logs`]) | `OTEL_LOGS_EXPORTER` (`otlp`, `console`, `none`) | `otlp` if an OTLP endpoint variable is set (the generic one only when it is not an AWS host nor signed for AWS), else `none` |
//! | metrics ([`metrics`]) | `OTEL_METRICS_EXPORTER` (`otlp`, `console`, `none`) | `otlp` if an OTLP endpoint variable is set (the generic one only when it is not an AWS host nor signed for AWS), else `none` |
//! | everything off | `OTEL_SDK_DISABLED=true` | on |
//!
//! OTLP headers, timeout and compression (`OTEL_EXPORTER_OTLP_HEADERS`, ...)
//! and the batch processor's `OTEL_BSP_*` limits are read as the
//! OpenTelemetry specification says.
//!
//! # AWS
//!
//! Where the service runs (Lambda, Elastic Beanstalk, EKS, ECS, EC2) is
//! detected at start, off the application's threads, and becomes the
//! resource's `cloud.*`, `host.*`, `aws.ecs.*`, `faas.*`, `k8s.*` and
//! `aws.log.group.names` attributes (feature `aws`, on by default). With
//! the feature `aws-sdk`, the `aws` module traces every AWS SDK for Rust
//! client's calls and carries traces through SQS.
#![warn(missing_docs)]

extern crate self as xray_runtime;

/// Wraps a function in a span that is current for everything it calls.
///
/// The span ends exactly once: when the function returns, returns an error,
/// panics, or (async) when its future is dropped unfinished. Works on sync
/// and `async` functions, methods, generic functions and `impl Trait`
/// signatures; the signature, borrows and the future's `Send`-ness do not change.
///
/// Also on functions returning `impl Future` whose body ends in an `async`
/// block (the returned future is traced), on `async-trait` methods (above or
/// below `#[async_trait]`), and on whole `impl` blocks: every method is
/// traced, a method's own `#[traced(...)]` overrides the block's options, and
/// `#[traced(skip)]` leaves it out.
///
/// Options: `name = "..."`, `kind = internal|server|client|producer|consumer`,
/// `args(a, b)`, `attrs(key.path = expr, k = %display, k = ?debug)`,
/// `annotations(key = expr)`, `err` / `err = false`, `ret` / `ret(%)` /
/// `ret(?)` / `ret = false`, `skip`. See the README for the full table.
///
/// ```
/// use xray_runtime::traced;
///
/// #[derive(Debug)]
/// struct NotFound;
/// impl std::fmt::Display for NotFound {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("no such order")
///     }
/// }
///
/// #[traced(kind = client, args(id), annotations(table = "orders"))]
/// fn load(id: u64) -> Result<String, NotFound> {
///     if id == 0 { Err(NotFound) } else { Ok(format!("order {id}")) }
/// }
///
/// let capture = xray_runtime::testing::capture();
/// assert!(load(0).is_err());
/// let span = capture.span("load");
/// assert_eq!(span.attr_i64("id"), Some(0));
/// assert_eq!(span.status, xray_runtime::testing::SpanStatus::Error("no such order".into()));
/// ```
pub use xray_macros::traced;

/// Starts a trace, or continues the caller's from an incoming header.
///
/// Takes the options of [`traced`] plus one of `headers = expr` (request
/// headers: anything implementing [`propagation::HeaderGetter`], such as
/// `&http::HeaderMap`), `trace_header = expr` (the raw `X-Amzn-Trace-Id`
/// value, `&str` or `Option<&str>`) or `lambda` (read `_X_AMZN_TRACE_ID`,
/// flush when the invocation ends). Without a valid incoming context each
/// call starts a new trace, whatever span is current. Default kind: `server`.
///
/// ```
/// use xray_runtime::xray_root;
///
/// #[xray_root(name = "GET /orders", trace_header = header)]
/// fn handle(header: Option<&str>) -> Option<String> {
///     xray_runtime::current_trace_id()
/// }
///
/// let capture = xray_runtime::testing::capture();
/// let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
/// assert_eq!(handle(Some(header)).as_deref(), Some("1-5759e988-bd862e3fe1be46a994272793"));
/// assert_ne!(handle(None).as_deref(), Some("1-5759e988-bd862e3fe1be46a994272793"));
/// ```
pub use xray_macros::xray_root;

/// Sets tracing up around `main` and flushes every span when it ends.
///
/// On `fn main`, sync or async (with `#[tokio::main]` above or below), with
/// any return type. Spans are flushed on normal return, on an `Err` return
/// and on panic, within the shutdown timeout. Options, each overridden by its
/// standard environment variable (see the table above): `service`,
/// `exporter = otlp|console|json|none`, `endpoint`, `protocol = grpc|http`,
/// `propagators`, `sampler`, `shutdown_timeout_ms`.
///
/// ```no_run
/// use xray_runtime::{traced, xray_main};
///
/// #[xray_main(service = "billing", exporter = otlp, protocol = grpc)]
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     bill()?;
///     Ok(())
/// }
///
/// #[traced]
/// fn bill() -> std::io::Result<()> {
///     Ok(())
/// }
/// ```
pub use xray_macros::xray_main;

// Leaves first: each module imports only those above it.
mod clock;
mod flush_error;
mod id;
mod origin;
pub mod propagation;
mod queue;
mod record;
mod say_once;
mod stats;
mod value;

mod sampler;
mod state;

mod span;

mod carry;
pub mod export;
mod resource;
mod signals;

pub mod logs;
pub mod metrics;

mod collector;
mod config;
mod fork;
mod provider;
#[cfg(feature = "xray-sampler")]
mod sampling_rules;
mod signal_pipelines;

#[cfg(feature = "aws-sdk")]
pub mod aws;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "testing")]
pub mod testing;

mod private;

#[cfg(feature = "reqwest")]
pub use self::http::RequestBuilderExt;
#[cfg(feature = "tower")]
pub use self::http::XrayLayer;
pub use carry::{SpanHandle, WithSpan, current_span, thread};
#[cfg(feature = "tokio")]
pub use carry::{spawn, spawn_blocking};
pub use config::SignalExporter;
pub use config::{Config, DEFAULT_PROPAGATORS, DEFAULT_SHUTDOWN_TIMEOUT, ExporterKind};
pub use config::{DEFAULT_POLLING_INTERVAL, DEFAULT_SAMPLING_ENDPOINT, XraySampling};
pub use export::Protocol;
pub use flush_error::FlushError;
pub use id::XrayIdGenerator;
/// OpenTelemetry's context, as [`Span::root`] and [`current_context`] use it.
pub use opentelemetry::Context;
/// An attribute: a key and a value (OpenTelemetry's).
pub use opentelemetry::KeyValue;
/// The kind of a [`Span`] (OpenTelemetry's).
pub use opentelemetry::trace::SpanKind;
pub use provider::{Guard, flush, init};
pub use record::{ANNOTATIONS_KEY, CANCELLED_KEY, EXCEPTION_ORIGIN_KEY, RETURN_KEY};
pub use sampler::{SAMPLING_RULE_KEY, SamplerKind};
pub use signals::SignalStats;
pub use span::{
    InvalidAnnotationKey, Span, add_event, annotate, current_context, current_span_id,
    current_trace_header, current_trace_id, is_valid_annotation_key, record_error, set_attribute,
    set_status_error,
};
pub use stats::{Stats, stats};
pub use value::{AnnotationValue, AttributeValue, MAX_VALUE_LEN};

/// Support for the macros' expansions. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::private::*;
}
