use xray_runtime::traced;

#[traced(level = "debug")]
fn handle() {}

fn main() {}
