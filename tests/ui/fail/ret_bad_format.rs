use xray_runtime::traced;

#[traced(ret(x))]
fn total() -> u32 {
    3
}

fn main() {}
