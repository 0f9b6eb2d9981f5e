use xray_runtime::{traced, xray_main};

#[traced]
fn work() -> Option<String> {
    xray_runtime::current_trace_header()
}

#[xray_main(
    service = "checkout",
    exporter = none,
    endpoint = "http://127.0.0.1:4318",
    protocol = http,
    compression = gzip,
    propagators = "xray, tracecontext,baggage",
    sampler = parentbased_traceidratio(1.0),
    shutdown_timeout_ms = 250,
    resource_detectors = "aws_lambda,ecs",
)]
fn main() {
    let header = work().expect("#[xray_main] installed no provider");
    assert!(header.ends_with(";Sampled=1"), "{header}");
}
