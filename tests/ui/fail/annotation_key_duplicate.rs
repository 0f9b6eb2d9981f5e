use xray_runtime::traced;

#[traced(annotations(tier = "gold", region = "eu", tier = "silver"))]
fn load() {}

fn main() {}
