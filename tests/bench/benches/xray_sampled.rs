//! xray, sampled (`SamplerKind::AlwaysOn`), exported through the real batch
//! pipeline into a `DropExporter`.

use xray_bench::{exported_spans, xray};
use xray_runtime::SamplerKind;

mod common;

fn main() {
    let mut c = common::criterion();
    let guard = xray::init(SamplerKind::AlwaysOn);
    let flush = || {
        if let Err(err) = guard.flush() {
            eprintln!("flush: {err}");
        }
    };

    // No current span: every call starts a new trace (like the raw SDK and
    // tracing-otel rows).
    common::bench_exported(
        &mut c,
        "xray_sampled",
        1,
        &flush,
        &exported_spans,
        xray::span,
    );
    // Children of one long-lived root (which is exported too, after them).
    let before = exported_spans();
    let calls = xray::under_root(|| common::bench(&mut c, "xray_child_sampled", xray::span));
    flush();
    let children = (exported_spans() - before).saturating_sub(1);
    common::report_export("xray_child_sampled", calls, 1, children);
    common::bench_exported(
        &mut c,
        "xray_nested",
        11,
        &flush,
        &exported_spans,
        xray::nested,
    );
    common::bench_exported(
        &mut c,
        "xray_root_sampled",
        1,
        &flush,
        &exported_spans,
        xray::root,
    );

    c.final_summary();
    drop(guard);
}
