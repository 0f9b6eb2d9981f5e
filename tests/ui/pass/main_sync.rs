use xray_runtime::{traced, xray_main};

#[traced]
fn work() -> bool {
    xray_runtime::current_trace_id().is_some()
}

#[xray_main(exporter = none)]
fn main() {
    assert!(work(), "#[xray_main] installed no provider");
    assert_eq!(xray_runtime::current_trace_id(), None);
}
