use xray_runtime::xray_main;

#[xray_main]
fn run() {}

fn main() {
    run();
}
