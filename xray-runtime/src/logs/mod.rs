//! Logs that line up with the traces.
//!
//! Two things, each usable without the other:
//!
//! * **Correlation**: every line your program writes inside a traced span
//!   carries the span's trace id, in X-Ray form, and span id, so that a
//!   CloudWatch Logs Insights query on a trace id finds its lines.
//!   [`TraceIds`] does it for `tracing_subscriber::fmt` (text and JSON;
//!   feature `tracing`), [`XrayLogger`] for `log` loggers such as
//!   `env_logger` (feature `log`). Lines outside spans are unchanged.
//! * **Export**: with `OTEL_LOGS_EXPORTER=otlp` (the default when an OTLP
//!   endpoint is set) or `console`, records go out as OpenTelemetry log
//!   records with their span context, to a collector or straight to
//!   CloudWatch Logs: from `tracing` through [`XrayLogLayer`], from `log`
//!   through [`XrayLogger`]. They are batched off the program's threads in
//!   a bounded queue (`OTEL_BLRP_MAX_QUEUE_SIZE`, 2048 records), every record
//!   lost is counted ([`stats`]), and the guard of [`init`](crate::init)
//!   (or `#[xray_main]`) exports what is left at exit.
//!
//! ```
//! # #[cfg(feature = "tracing")] {
//! use tracing_subscriber::layer::SubscriberExt;
//! use xray_runtime::logs::{TraceIds, XrayLogLayer};
//! use xray_runtime::traced;
//!
//! #[traced]
//! fn pay(amount: u32) {
//!     tracing::info!(amount, "paid");
//! }
//!
//! let subscriber = tracing_subscriber::registry()
//!     .with(XrayLogLayer::new())
//!     .with(tracing_subscriber::fmt::layer().json().map_event_format(TraceIds::new));
//! let _default = tracing::subscriber::set_default(subscriber);
//! let _guard = xray_runtime::init(xray_runtime::Config::new().exporter(xray_runtime::ExporterKind::None));
//! pay(3); // {"trace_id":"1-...","span_id":"...","timestamp":...,"fields":{"message":"paid","amount":3},...}
//! # }
//! ```

mod console;
#[cfg(feature = "log")]
mod log_bridge;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod otlp;
pub(crate) mod pipeline;
mod queue;
mod record;
#[cfg(feature = "tracing")]
mod tracing_layer;

use crate::signals::SignalStats;
use crate::signals::stats::Counters;

#[cfg(feature = "log")]
pub use log_bridge::XrayLogger;
#[cfg(feature = "tracing")]
pub use tracing_layer::{TraceIds, XrayLogLayer};

/// The log records counted by the logs' export pipeline.
pub(crate) static STATS: Counters = Counters::new();

/// The log records exported and lost since the process started.
///
/// ```
/// let stats = xray_runtime::logs::stats();
/// assert_eq!(stats.lost(), 0);
/// ```
pub fn stats() -> SignalStats {
    STATS.read()
}
