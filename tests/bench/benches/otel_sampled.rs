//! Raw OpenTelemetry SDK, sampled (`Sampler::AlwaysOn`), batch processor
//! into a `DropExporter`.

use opentelemetry_sdk::trace::Sampler;
use xray_bench::{exported_spans, otel};

mod common;

fn main() {
    let mut c = common::criterion();
    let provider = otel::install(Sampler::AlwaysOn);
    let flush = || {
        if let Err(err) = provider.force_flush() {
            eprintln!("flush: {err}");
        }
    };

    common::bench_exported(
        &mut c,
        "otel_sampled",
        1,
        &flush,
        &exported_spans,
        otel::span,
    );
    // Children of one long-lived root (which is exported too, after them).
    let before = exported_spans();
    let root = otel::enter_root();
    let calls = common::bench(&mut c, "otel_child_sampled", otel::span);
    drop(root);
    flush();
    let children = (exported_spans() - before).saturating_sub(1);
    common::report_export("otel_child_sampled", calls, 1, children);
    common::bench_exported(
        &mut c,
        "otel_nested",
        11,
        &flush,
        &exported_spans,
        otel::nested,
    );

    c.final_summary();
    let _ = provider.shutdown();
}
