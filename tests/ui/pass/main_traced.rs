use xray_runtime::{traced, xray_main};

// `#[traced]` above `#[xray_main]`: the main span starts once the provider
// is installed, and ends before the guard flushes it. (Below, the span would
// start before the provider exists and be silently lost.)
#[traced(name = "main span")]
#[xray_main(exporter = none)]
fn main() {
    assert!(xray_runtime::current_trace_id().is_some());
}
