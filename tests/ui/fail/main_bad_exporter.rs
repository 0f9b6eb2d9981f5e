use xray_runtime::xray_main;

#[xray_main(exporter = xray)]
fn main() {}
