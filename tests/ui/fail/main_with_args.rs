use xray_runtime::xray_main;

#[xray_main]
fn main(args: Vec<String>) {}
