// `exporter = xray`: AWS X-Ray's OTLP endpoint, signed with SigV4. Without a
// region or credentials nothing can be sent, but the program runs and exits.
use xray_runtime::{traced, xray_main};

#[traced]
fn work() -> bool {
    xray_runtime::current_trace_id().is_some()
}

#[xray_main(service = "billing", exporter = xray, compression = none, shutdown_timeout_ms = 100)]
fn main() {
    assert!(work());
}
