use xray_runtime::xray_main;

#[xray_main(exporter = zipkin)]
fn main() {}
