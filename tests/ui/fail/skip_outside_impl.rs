use xray_runtime::traced;

#[traced(skip)]
fn helper() {}

fn main() {}
