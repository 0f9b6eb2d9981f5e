use xray_runtime::traced;

#[traced(name = "")]
fn handle() {}

fn main() {}
