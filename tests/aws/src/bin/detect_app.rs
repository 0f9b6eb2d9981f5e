//! A traced program whose spans go where the environment says
//! (`OTEL_EXPORTER_OTLP_*`), with the resource that detection found
//! (`OTEL_RESOURCE_DETECTORS`, `ECS_CONTAINER_METADATA_URI_V4`,
//! `AWS_EC2_METADATA_SERVICE_ENDPOINT`, ...). It says on stdout how long
//! `init` and its first span took on its own thread: `init_us=` and
//! `first_span_us=`.

use std::time::Instant;

use xray_runtime::{Config, traced};

#[traced]
fn first() -> u64 {
    std::hint::black_box(7)
}

fn main() {
    let started = Instant::now();
    let guard = xray_runtime::init(Config::new().service_name("detect-app"));
    let init = started.elapsed();
    let started = Instant::now();
    first();
    let first_span = started.elapsed();
    println!("init_us={}", init.as_micros());
    println!("first_span_us={}", first_span.as_micros());
    drop(guard);
}
