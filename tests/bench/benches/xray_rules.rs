//! xray's roots decided by X-Ray's sampling rules: 20 rules with wildcard
//! paths, the matching one last, next to the same root under the default
//! sampler (`parentbased_always_on`), sampled and sampled out; and a child
//! span under a root of each.
//!
//! What is compared is what the calling thread does, so the measurement
//! leaves out what the export thread does meanwhile:
//! - every span is timed in runs of [`RUN`] calls, flushed in between
//!   (untimed; see `common::bench_in_runs`): every sampled span is exported,
//!   and the export thread does not run while the clock does;
//! - the process keeps to one CPU, so the export thread's flushes and the
//!   calling thread share its caches: the memory the export thread frees is
//!   not fetched back from another core's cache by the next run.
//!
//! Either way, timed while the export thread runs on the other core, a
//! sampled span's figure depends on how much it happens to take and free
//! meanwhile, which moves it from run to run by more than the rules cost.

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

/// Keeps this process (and the threads it starts from now on) on one CPU:
/// the last one it may run on (the first usually takes more of the
/// machine's interrupts).
fn stay_on_one_cpu() {
    // SAFETY: `set` is a zeroed `cpu_set_t` that outlives both calls, which
    // are given its size; `CPU_ISSET`/`CPU_ZERO`/`CPU_SET` stay within it
    // (`cpu` < `CPU_SETSIZE`).
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        let size = std::mem::size_of::<libc::cpu_set_t>();
        if libc::sched_getaffinity(0, size, &mut set) != 0 {
            return;
        }
        let Some(cpu) = (0..libc::CPU_SETSIZE as usize)
            .rev()
            .find(|&cpu| libc::CPU_ISSET(cpu, &set))
        else {
            return;
        };
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, size, &set) != 0 {
            eprintln!("xray_rules: could not keep to CPU {cpu}; figures will be noisier");
        }
    }
}

/// A root per call and a child of one long-lived root, each timed in runs,
/// with the spans that reach the exporter counted.
fn roots_and_children(c: &mut criterion::Criterion, guard: &Guard, root_id: &str, child_id: &str) {
    let flush = flusher(guard);
    let before = exported_spans();
    let calls = common::bench_in_runs(c, root_id, RUN, &flush, xray::http_root);
    common::report_export(root_id, calls, 1, exported_spans() - before);
    let before = exported_spans();
    let calls = xray::under_root(|| common::bench_in_runs(c, child_id, RUN, &flush, xray::span));
    flush();
    // The long-lived root is exported too.
    let children = (exported_spans() - before).saturating_sub(1);
    common::report_export(child_id, calls, 1, children);
}

fn main() {
    stay_on_one_cpu();
    let mut c = common::criterion();

    let guard = xray::init(SamplerKind::ParentBasedAlwaysOn);
    roots_and_children(
        &mut c,
        &guard,
        "xray_http_root_always_on",
        "xray_child_always_on",
    );
    drop(guard);

    let guard = xray::init_rules(1.0);
    roots_and_children(
        &mut c,
        &guard,
        "xray_http_root_rules_sampled",
        "xray_child_rules",
    );
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
