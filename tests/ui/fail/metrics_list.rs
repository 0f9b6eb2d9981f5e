use xray_runtime::traced;

#[traced(metrics(outcome, duration))]
fn load() {}

fn main() {
    load();
}
