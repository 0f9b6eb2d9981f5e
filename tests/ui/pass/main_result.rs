use std::error::Error;

use xray_runtime::{traced, xray_main};

#[traced]
fn parse(text: &str) -> Result<u32, std::num::ParseIntError> {
    assert!(xray_runtime::current_trace_id().is_some());
    text.parse()
}

#[xray_main(exporter = none)]
fn main() -> Result<(), Box<dyn Error>> {
    let n = parse("7")?;
    assert_eq!(n, 7);
    Ok(())
}
