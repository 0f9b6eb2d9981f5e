// An inner attribute at the top of the body keeps applying to the body.
use xray_runtime::traced;

#[traced(ret)]
fn load() -> u32 {
    #![deny(unused_variables)]
    let unused = 1;
    2
}

fn main() {
    let _ = load();
}
