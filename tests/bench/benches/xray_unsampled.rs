//! xray, sampled out: `SamplerKind::AlwaysOff`, so every root is unsampled
//! and so is every span under it.

use xray_bench::xray;
use xray_runtime::SamplerKind;

mod common;

fn main() {
    let mut c = common::criterion();
    let guard = xray::init(SamplerKind::AlwaysOff);

    common::bench(&mut c, "xray_unsampled", xray::span);
    xray::under_root(|| {
        common::bench(&mut c, "xray_child_unsampled", xray::span);
    });
    common::bench(&mut c, "xray_nested_unsampled", xray::nested);
    common::bench(&mut c, "xray_root_unsampled", xray::root);

    c.final_summary();
    drop(guard);
}
