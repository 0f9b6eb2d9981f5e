//! A program instrumented with `xray-runtime` the way a user would write it.
//!
//! The collector end-to-end test runs it with `OTEL_EXPORTER_OTLP_ENDPOINT` and
//! `OTEL_EXPORTER_OTLP_PROTOCOL` pointing at a collector. It handles three
//! requests; each one prints `TRACE <x-ray trace id>` and yields four spans:
//! `handle` (server, root) → `load` → `inner`, and `handle` → `fail` (error).

use xray_runtime::{traced, xray_main, xray_root};

#[xray_main(service = "e2e-app")]
fn main() {
    for i in 0..3 {
        handle(i);
    }
}

#[xray_root(name = "handle", kind = server)]
fn handle(i: u32) {
    println!(
        "TRACE {}",
        xray_runtime::current_trace_id().unwrap_or_default()
    );
    load(i);
    let _ = fail(i);
}

#[traced(attrs(item.id = i), annotations(tier = "gold"))]
fn load(i: u32) {
    inner();
}

#[traced]
fn inner() {}

#[traced]
fn fail(i: u32) -> Result<(), std::io::Error> {
    Err(std::io::Error::other(format!("boom {i}")))
}
