use xray_runtime::traced;

#[traced(args(id, user))]
fn load(id: u64, (name, age): (&str, u8)) {}

fn main() {}
