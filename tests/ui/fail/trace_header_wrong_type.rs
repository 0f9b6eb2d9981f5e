use xray_runtime::xray_root;

#[xray_root(trace_header = 5)]
fn handle() {}

fn main() {}
