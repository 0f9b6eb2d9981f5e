use xray_runtime::xray_main;

#[xray_main(protocol = https)]
fn main() {}
