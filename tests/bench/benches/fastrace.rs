//! fastrace `#[trace]` (feature `enable`): disabled (no reporter, no
//! parent), then with a dropping reporter as a child of a long-lived root
//! recycled every 1000 calls, a root per call, and a root with 10 children.

use xray_bench::fr;

mod common;

fn main() {
    let mut c = common::criterion();

    common::bench(&mut c, "fastrace_disabled", fr::span);

    fr::install();
    let mut root = fr::Recycled::new();
    let mut calls = common::bench(&mut c, "fastrace_child", |x| {
        root.tick();
        fr::span(x)
    });
    drop(root);
    calls += 11 * common::bench(&mut c, "fastrace_nested", fr::nested);
    calls += common::bench(&mut c, "fastrace_root", fr::root);

    // fastrace does not drop here (below its per-root span limit): what the
    // producer thread has not handed to the collector yet stays queued on
    // that thread until it submits again, so per-benchmark counts would be
    // meaningless; only the total is shown.
    fr::flush();
    eprintln!(
        "fastrace: {calls} spans made (recycled roots not counted), {} reported so far",
        fr::reported_spans()
    );
    c.final_summary();
}
