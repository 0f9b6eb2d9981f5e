//! xray's roots decided by X-Ray's sampling rules: 20 rules with wildcard
//! paths, the matching one last, next to the same root under the default
//! sampler (`parentbased_always_on`), sampled and sampled out; and a child
//! span under a root the rules sampled.
//!
//! The roots are timed in runs of [`RUN`] calls, flushed in between
//! (untimed; see `common::bench_in_runs`): every sampled root is exported,
//! and the export thread never runs while the clock does. Timed while it
//! runs, the sampled roots' figures depend on how many spans it happens to
//! take (and free) during the measurement, which differs from run to run
//! and between configurations by more than the rules cost.

use xray_bench::{exported_spans, xray};
use xray_runtime::{Guard, SamplerKind};

mod common;

/// Calls per timed run: within the default export queue (2048 spans).
const RUN: u64 = 1_000;

fn flusher(guard: &Guard) -> impl Fn() + '_ {
    move || {
        if let Err(err) = guard.flush() {
            eprintln!("flush: {err}");
        }
    }
}

fn main() {
    let mut c = common::criterion();

    let guard = xray::init(SamplerKind::ParentBasedAlwaysOn);
    let before = exported_spans();
    let calls = common::bench_in_runs(
        &mut c,
        "xray_http_root_always_on",
        RUN,
        &flusher(&guard),
        xray::http_root,
    );
    common::report_export(
        "xray_http_root_always_on",
        calls,
        1,
        exported_spans() - before,
    );
    drop(guard);

    let guard = xray::init_rules(1.0);
    let before = exported_spans();
    let calls = common::bench_in_runs(
        &mut c,
        "xray_http_root_rules_sampled",
        RUN,
        &flusher(&guard),
        xray::http_root,
    );
    common::report_export(
        "xray_http_root_rules_sampled",
        calls,
        1,
        exported_spans() - before,
    );
    xray::under_root(|| {
        common::bench(&mut c, "xray_child_rules", xray::span);
    });
    drop(guard);

    let guard = xray::init_rules(0.0);
    common::bench_in_runs(
        &mut c,
        "xray_http_root_rules_unsampled",
        RUN,
        &flusher(&guard),
        xray::http_root,
    );
    drop(guard);

    c.final_summary();
}
