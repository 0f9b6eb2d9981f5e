// `#[xray_main]` above `#[traced]` on `main`: the provider is installed
// before the span of `main` starts, so that span is recorded.
use xray_runtime::{traced, xray_main};

#[xray_main(exporter = none)]
#[traced]
fn main() {
    assert!(xray_runtime::current_trace_id().is_some(), "main's span is recorded");
    child();
}

#[traced]
fn child() {
    assert!(xray_runtime::current_trace_id().is_some());
}
