use xray_runtime::traced;

#[traced(ret)]
#[track_caller]
fn location() -> u32 {
    std::panic::Location::caller().line()
}

fn main() {
    let _ = location();
}
