//! The zero-setup quickstart: traces print as trees on stdout, no collector
//! needed, and the program's log lines carry the trace and span ids of the
//! span they were written in.
//!
//! ```sh
//! cargo run --example quickstart
//! ```

#[path = "shared/shop.rs"]
mod shop;

use xray_runtime::logs::TraceIds;
use xray_runtime::xray_main;

#[xray_main(service = "shop", exporter = console)]
#[tokio::main]
async fn main() {
    // The usual `tracing_subscriber` lines, with `trace_id=... span_id=...`
    // at the end of those written inside a span.
    tracing_subscriber::fmt()
        .with_ansi(false)
        .without_time()
        .map_event_format(TraceIds::new)
        .init();
    shop::run().await;
}
