use xray_runtime::traced;

#[traced(args(n), ret)]
fn factorial(n: u64) -> u64 {
    if n <= 1 { 1 } else { n * factorial(n - 1) }
}

#[traced(args(n))]
async fn countdown(n: u32) -> u32 {
    if n == 0 {
        return 0;
    }
    1 + Box::pin(countdown(n - 1)).await
}

fn main() {
    let capture = xray_runtime::testing::capture();
    assert_eq!(factorial(3), 6);
    let spans = capture.spans_named("factorial");
    // Innermost ends first; each call is the child of its caller.
    assert_eq!(spans.len(), 3);
    assert_eq!(spans[0].attr_i64("n"), Some(1));
    assert_eq!(spans[2].attr_i64("xray.return"), Some(6));
    assert_eq!(
        spans[0].parent_span_id.as_deref(),
        Some(spans[1].span_id.as_str())
    );
    assert_eq!(
        spans[1].parent_span_id.as_deref(),
        Some(spans[2].span_id.as_str())
    );
    assert!(spans[2].is_root());

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(countdown(3)), 3);
    let spans = capture.spans_named("countdown");
    assert_eq!(spans.len(), 4);
    assert_eq!(spans[0].attr_i64("n"), Some(0));
    assert_eq!(
        spans[0].parent_span_id.as_deref(),
        Some(spans[1].span_id.as_str())
    );
    assert!(spans[3].is_root());
}
