use xray_runtime::xray_main;

#[xray_main(endpoint = "127.0.0.1:4317")]
fn main() {}
