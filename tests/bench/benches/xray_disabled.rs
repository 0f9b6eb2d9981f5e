//! xray, disabled: first with no provider installed at all, then after
//! `init` with `OTEL_SDK_DISABLED=true` (which installs nothing).

use xray_bench::xray;

mod common;

fn main() {
    let mut c = common::criterion();

    common::bench(&mut c, "xray_noprovider", xray::span);
    common::bench(&mut c, "xray_nested_noprovider", xray::nested);
    common::bench(&mut c, "xray_root_noprovider", xray::root);

    let guard = xray::init_sdk_disabled();
    common::bench(&mut c, "xray_sdk_disabled", xray::span);
    common::bench(&mut c, "xray_nested_sdk_disabled", xray::nested);
    common::bench(&mut c, "xray_root_sdk_disabled", xray::root);

    c.final_summary();
    drop(guard);
}
