//! Raw OpenTelemetry SDK, sampled out (`Sampler::AlwaysOff`), and the global
//! no-op tracer (no provider installed).

use opentelemetry_sdk::trace::Sampler;
use xray_bench::otel;

mod common;

fn main() {
    let mut c = common::criterion();

    common::bench(&mut c, "otel_noop", otel::span_global);
    common::bench(&mut c, "otel_nested_noop", otel::nested_global);

    let provider = otel::install(Sampler::AlwaysOff);
    common::bench(&mut c, "otel_unsampled", otel::span);
    common::bench(&mut c, "otel_nested_unsampled", otel::nested);

    c.final_summary();
    let _ = provider.shutdown();
}
