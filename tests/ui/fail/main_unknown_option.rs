use xray_runtime::xray_main;

#[xray_main(service_name = "checkout")]
fn main() {}
