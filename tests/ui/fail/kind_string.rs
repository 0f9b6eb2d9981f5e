use xray_runtime::traced;

#[traced(kind = "client")]
fn fetch() {}

fn main() {
    fetch();
}
