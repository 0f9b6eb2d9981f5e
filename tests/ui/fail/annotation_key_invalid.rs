use xray_runtime::traced;

#[traced(annotations(bad.key = 1))]
fn load() {}

fn main() {}
