use xray_runtime::traced;

#[traced(kind = http)]
fn handle() {}

fn main() {}
