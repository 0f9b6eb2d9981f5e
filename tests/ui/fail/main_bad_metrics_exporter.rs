use xray_runtime::xray_main;

#[xray_main(metrics = "otlp")]
fn main() {}
