//! The same program, exporting over OTLP to a collector (which forwards to
//! AWS X-Ray in production).
//!
//! ```sh
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 cargo run --example otlp
//! # or, over gRPC:
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317 OTEL_EXPORTER_OTLP_PROTOCOL=grpc cargo run --example otlp
//! ```
//!
//! The log lines go to the collector too, as OpenTelemetry log records
//! with their span context (`OTEL_LOGS_EXPORTER`, `otlp` when an endpoint
//! is set), and so do the request-duration metrics (`OTEL_METRICS_EXPORTER`).

#[path = "shared/shop.rs"]
mod shop;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use xray_runtime::logs::{TraceIds, XrayLogLayer};
use xray_runtime::xray_main;

#[xray_main(service = "shop", exporter = otlp)]
#[tokio::main]
async fn main() {
    // Records to the collector, and lines with their ids on stdout.
    tracing_subscriber::registry()
        .with(XrayLogLayer::new())
        .with(tracing_subscriber::fmt::layer().map_event_format(TraceIds::new))
        .init();
    shop::run().await;
}
