use xray_runtime::traced;

#[traced(err = "yes")]
fn load() -> Result<(), String> {
    Ok(())
}

fn main() {
    let _ = load();
}
