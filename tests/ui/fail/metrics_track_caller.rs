use xray_runtime::traced;

#[traced(metrics)]
#[track_caller]
fn here() -> &'static std::panic::Location<'static> {
    std::panic::Location::caller()
}

fn main() {
    let _ = here();
}
