use xray_runtime::xray_main;

#[xray_main(exporter = none)]
async fn main() {}
