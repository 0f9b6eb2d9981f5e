use std::collections::HashMap;

use xray_runtime::xray_root;

#[xray_root(headers = headers, trace_header = header)]
fn handle(headers: &HashMap<String, String>, header: &str) {}

fn main() {}
