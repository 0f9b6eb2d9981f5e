//! The same program, exporting over OTLP to a collector (which forwards to
//! AWS X-Ray in production).
//!
//! ```sh
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 cargo run --example otlp
//! # or, over gRPC:
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317 OTEL_EXPORTER_OTLP_PROTOCOL=grpc cargo run --example otlp
//! ```

#[path = "shared/shop.rs"]
mod shop;

use xray_runtime::xray_main;

#[xray_main(service = "shop", exporter = otlp)]
#[tokio::main]
async fn main() {
    shop::run().await;
}
