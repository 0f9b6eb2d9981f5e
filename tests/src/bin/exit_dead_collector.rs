//! OTLP export to a collector that is not there (or never answers): the
//! process must still exit by itself, promptly, with code 0.

use xray_runtime::{traced, xray_main, xray_root};

#[xray_main(service = "exit-dead-collector", exporter = otlp, shutdown_timeout_ms = 1000)]
fn main() {
    for request in 0..20 {
        dead_request(request);
    }
}

#[xray_root(args(request))]
fn dead_request(request: i64) {
    dead_query(request);
}

#[traced(args(request))]
fn dead_query(request: i64) {
    std::hint::black_box(request);
}
