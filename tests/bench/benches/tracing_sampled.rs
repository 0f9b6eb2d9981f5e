//! `tracing` `#[instrument]` + the default `tracing-opentelemetry` layer,
//! sampled (`Sampler::AlwaysOn`), batch processor into a `DropExporter`.

use opentelemetry_sdk::trace::Sampler;
use xray_bench::{exported_spans, tr};

mod common;

fn main() {
    let mut c = common::criterion();
    let provider = tr::install(Sampler::AlwaysOn);
    let flush = || {
        if let Err(err) = provider.force_flush() {
            eprintln!("flush: {err}");
        }
    };

    common::bench_exported(
        &mut c,
        "tracing_sampled",
        1,
        &flush,
        &exported_spans,
        tr::span,
    );
    common::bench_exported(
        &mut c,
        "tracing_nested",
        11,
        &flush,
        &exported_spans,
        tr::nested,
    );

    c.final_summary();
    let _ = provider.shutdown();
}
