use xray_runtime::traced;

#[traced(args(id, name, id))]
fn load(id: u64, name: &str) {}

fn main() {}
