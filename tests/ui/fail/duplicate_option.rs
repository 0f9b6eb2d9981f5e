use xray_runtime::traced;

#[traced(name = "load", kind = client, name = "fetch")]
fn load() {}

fn main() {}
