use xray_runtime::traced;

#[traced(name = handle_order)]
fn handle() {}

fn main() {}
