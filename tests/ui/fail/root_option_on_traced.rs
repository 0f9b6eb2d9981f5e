use std::collections::HashMap;

use xray_runtime::traced;

#[traced(headers = headers)]
fn handle(headers: &HashMap<String, String>) {}

fn main() {}
