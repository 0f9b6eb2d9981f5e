use xray_runtime::traced;

#[traced(metrics = "yes")]
fn load() -> Result<(), String> {
    Ok(())
}

fn main() {
    let _ = load();
}
