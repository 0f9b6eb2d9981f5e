use xray_runtime::xray_main;

#[xray_main(sampler = parentbased_traceidratio(1.5))]
fn main() {}
