use xray_runtime::xray_main;

#[xray_main(logs = json)]
fn main() {}
