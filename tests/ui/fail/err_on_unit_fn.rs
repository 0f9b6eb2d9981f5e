use xray_runtime::traced;

#[traced(err)]
fn save(data: &[u8]) {}

fn main() {}
