use std::time::Duration;

use xray_runtime::traced;

#[traced(ret)]
async fn double(x: u32) -> u32 {
    tokio::time::sleep(Duration::from_millis(1)).await;
    x * 2
}

#[traced]
async fn outer() -> u32 {
    double(1).await + double(2).await
}

#[traced(name = "no output")]
async fn nothing() {}

fn main() {
    let capture = xray_runtime::testing::capture();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(outer()), 6);
    runtime.block_on(nothing());

    let outer = capture.span("outer");
    let children = capture.children(&outer);
    assert_eq!(children.len(), 2);
    assert!(children.iter().all(|c| c.name == "double"));
    assert_eq!(children[0].attr_i64("xray.return"), Some(2));
    assert_eq!(children[1].attr_i64("xray.return"), Some(4));
    assert!(capture.span("no output").is_root());
}
