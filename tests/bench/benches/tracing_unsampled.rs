//! `tracing` `#[instrument]`: with no subscriber, then with the default
//! `tracing-opentelemetry` layer over a `Sampler::AlwaysOff` provider.

use opentelemetry_sdk::trace::Sampler;
use xray_bench::tr;

mod common;

fn main() {
    let mut c = common::criterion();

    common::bench(&mut c, "tracing_nosubscriber", tr::span);

    let provider = tr::install(Sampler::AlwaysOff);
    common::bench(&mut c, "tracing_unsampled", tr::span);
    common::bench(&mut c, "tracing_nested_unsampled", tr::nested);

    c.final_summary();
    let _ = provider.shutdown();
}
