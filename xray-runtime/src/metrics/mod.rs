//! Metrics that line up with the traces.
//!
//! With `OTEL_METRICS_EXPORTER=otlp` (the default when an OTLP endpoint is
//! set) or `console`, three duration histograms (seconds, the semantic
//! conventions' buckets) are recorded and exported every
//! `OTEL_METRIC_EXPORT_INTERVAL` (60 s) and at exit:
//!
//! | metric | recorded by | attributes |
//! | --- | --- | --- |
//! | `http.server.request.duration` | `XrayLayer`, per request | `http.request.method`, `url.scheme`, `http.route`, `network.protocol.version`, `http.response.status_code`, `error.type` |
//! | `http.client.request.duration` | traced clients (`send_traced`, `start_client_span`), per request | `http.request.method`, `server.address`, `server.port`, `url.scheme`, `http.response.status_code`, `error.type` |
//! | `xray.call.duration` | `#[xray_root]` and `#[traced(metrics)]`, per call | `code.function.name`, `xray.outcome` (`ok`, `error` for an `Err`, `fault` for a panic) |
//!
//! Every call and request is counted, sampled or not. Each bucket keeps an
//! exemplar: the trace and span ids of its latest measurement made in a
//! sampled trace (`OTEL_METRICS_EXEMPLAR_FILTER`: `trace_based`, the
//! default, `always_on`, `always_off`), so that a latency graph leads to
//! an example trace. Points are cumulative unless
//! `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE` says `delta` (or
//! `lowmemory`).
//!
//! With metrics off (the default without an OTLP endpoint), a traced
//! function without `metrics` runs exactly the code it runs without this
//! module, and a metered one pays one relaxed load.
//!
//! ```
//! use xray_runtime::{Config, ExporterKind, SignalExporter, traced};
//!
//! #[traced(metrics)]
//! fn charge(amount: u32) -> Result<u32, String> {
//!     if amount > 0 { Ok(amount) } else { Err("nothing to charge".into()) }
//! }
//!
//! let guard = xray_runtime::init(
//!     Config::new()
//!         .exporter(ExporterKind::None)
//!         .metrics(SignalExporter::Console),
//! );
//! let _ = charge(3);
//! let _ = charge(0);
//! drop(guard); // prints xray.call.duration for outcome "ok" and for "error"
//! ```

mod console;
pub(crate) mod histogram;
#[cfg(feature = "http")]
pub(crate) mod http;
mod instruments;
pub(crate) mod meter;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod otlp;
pub(crate) mod pipeline;
mod switch;

use crate::signals::SignalStats;
use crate::signals::stats::Counters;

/// The duration of `#[xray_root]` and `#[traced(metrics)]` calls.
pub const CALL_DURATION: &str = "xray.call.duration";
/// The duration of HTTP requests `XrayLayer` serves.
pub const HTTP_SERVER_DURATION: &str = "http.server.request.duration";
/// The duration of HTTP requests traced clients send.
pub const HTTP_CLIENT_DURATION: &str = "http.client.request.duration";

/// The data points counted by the metrics' export pipeline.
pub(crate) static STATS: Counters = Counters::new();

/// The metric data points exported and lost since the process started.
///
/// ```
/// assert_eq!(xray_runtime::metrics::stats().lost(), 0);
/// ```
pub fn stats() -> SignalStats {
    STATS.read()
}
