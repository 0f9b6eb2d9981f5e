//! Run with `OTEL_SDK_DISABLED=true`: nothing is recorded or exported, and the
//! instrumented code runs as if it were not.

use xray_runtime::{traced, xray_main, xray_root};

#[xray_main(service = "exit-disabled", exporter = json)]
fn main() {
    let sum = disabled_root(4);
    assert_eq!(sum, 10, "instrumented code still runs");
}

#[xray_root(args(n))]
fn disabled_root(n: u64) -> u64 {
    report_context("disabled_root");
    disabled_child(n) + n
}

#[traced(args(n))]
fn disabled_child(n: u64) -> u64 {
    report_context("disabled_child");
    n + 2
}

/// Says on stderr whether a span is current, so that the test can check it.
fn report_context(at: &str) {
    if let Some(trace_id) = xray_runtime::current_trace_id() {
        eprintln!("exit_disabled: span current in {at}: trace {trace_id}");
    }
}
