//! What metrics cost a traced call: a `#[traced]` span and a
//! `#[traced(metrics)]` one with metrics off (the same cost is expected:
//! one relaxed load more for the metered one), then with metrics on (the
//! histogram and its exemplar recorded per call), sampled and not.
//!
//! The unsampled pairs are the steadier measure: a sampled span also pays
//! for the export queue, which a `DropExporter` on a busy machine fills.
//!
//! Metrics on are exported to the console at exit (one interval never
//! passes during the run), so the histograms of the run print last.

use xray_bench::xray;
use xray_runtime::{SamplerKind, SignalExporter};

mod common;

fn main() {
    let mut c = common::criterion();

    let guard = xray::init_metrics(SamplerKind::AlwaysOff, SignalExporter::None);
    common::bench(&mut c, "xray_unsampled_metrics_off", xray::span);
    common::bench(
        &mut c,
        "xray_metered_unsampled_metrics_off",
        xray::metered_span,
    );
    drop(guard);

    let guard = xray::init_metrics(SamplerKind::AlwaysOn, SignalExporter::None);
    common::bench(&mut c, "xray_sampled_metrics_off", xray::span);
    common::bench(&mut c, "xray_metered_metrics_off", xray::metered_span);
    drop(guard);

    let guard = xray::init_metrics(SamplerKind::AlwaysOn, SignalExporter::Console);
    common::bench(
        &mut c,
        "xray_metered_sampled_metrics_on",
        xray::metered_span,
    );
    common::bench(&mut c, "xray_root_sampled_metrics_on", xray::root);
    drop(guard);

    let guard = xray::init_metrics(SamplerKind::AlwaysOff, SignalExporter::Console);
    common::bench(
        &mut c,
        "xray_metered_unsampled_metrics_on",
        xray::metered_span,
    );
    drop(guard);

    c.final_summary();
}
