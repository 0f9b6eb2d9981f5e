use xray_runtime::xray_root;

#[xray_root(headers = request_id)]
fn handle(request_id: u64) {}

fn main() {}
