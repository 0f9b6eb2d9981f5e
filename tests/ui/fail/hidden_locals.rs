use xray_runtime::traced;

#[traced(ret)]
fn peek() -> u32 {
    drop(__xray_guard);
    let _ = __xray_span;
    1
}

#[traced]
async fn peek_async() {
    let _ = __xray_span;
}

fn main() {}
