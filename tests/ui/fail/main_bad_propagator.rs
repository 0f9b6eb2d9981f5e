use xray_runtime::xray_main;

#[xray_main(propagators = "xray,b3")]
fn main() {}
