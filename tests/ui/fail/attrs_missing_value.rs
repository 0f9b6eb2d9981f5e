use xray_runtime::traced;

#[traced(attrs(order.id))]
fn load(id: u64) {}

fn main() {}
