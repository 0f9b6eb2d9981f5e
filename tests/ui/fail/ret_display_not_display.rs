use xray_runtime::traced;

#[derive(Debug)]
struct Report {
    lines: u32,
}

#[traced(ret(%))]
fn report() -> Report {
    Report { lines: 1 }
}

fn main() {}
