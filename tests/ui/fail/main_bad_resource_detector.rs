use xray_runtime::xray_main;

#[xray_main(resource_detectors = "ecs,gcp")]
fn main() {}
