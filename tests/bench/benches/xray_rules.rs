//! xray's roots decided by X-Ray's sampling rules: 20 rules with wildcard
//! paths, the matching one last, next to the same root under the default
//! sampler (`parentbased_always_on`), sampled and sampled out; and a child
//! span under a root the rules sampled.

use xray_bench::xray;
use xray_runtime::SamplerKind;

mod common;

fn main() {
    let mut c = common::criterion();

    let guard = xray::init(SamplerKind::ParentBasedAlwaysOn);
    common::bench(&mut c, "xray_http_root_always_on", xray::http_root);
    drop(guard);

    let guard = xray::init_rules(1.0);
    common::bench(&mut c, "xray_http_root_rules_sampled", xray::http_root);
    xray::under_root(|| {
        common::bench(&mut c, "xray_child_rules", xray::span);
    });
    drop(guard);

    let guard = xray::init_rules(0.0);
    common::bench(&mut c, "xray_http_root_rules_unsampled", xray::http_root);
    drop(guard);

    c.final_summary();
}
