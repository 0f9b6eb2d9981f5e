use xray_runtime::traced;

#[traced(ret = "display")]
fn total() -> u32 {
    1
}

fn main() {
    let _ = total();
}
