// The expansion's locals and paths are out of the user's reach: user
// names identical to them, a `Result` alias and modules named like the
// crates it uses change nothing.
#![allow(dead_code)]

use xray_runtime::{traced, xray_root};

mod core {}
mod std {}
mod opentelemetry {}

type Result<T> = ::std::result::Result<T, String>;

struct Recorder;
struct SpanSpec;

#[traced(args(__xray_span, __xray_out), attrs(__xray_recorder = __xray_value), ret, err)]
fn shadow(__xray_span: u8, __xray_out: u8, __xray_value: u8, __xray_recorder: u8) -> Result<u8> {
    let __xray_guard = __xray_span + __xray_out;
    let __xray_err = __xray_value + __xray_recorder;
    if __xray_guard == 0 {
        return Err("zero".to_string());
    }
    Ok(__xray_guard + __xray_err)
}

#[traced(args(__xray_span))]
async fn shadow_async(__xray_span: u8) -> Result<u8> {
    let __xray_out = __xray_span;
    let __xray_fake_return = __xray_out;
    Ok(__xray_fake_return)
}

#[xray_root(trace_header = __xray_guard, ret)]
fn shadow_root(__xray_guard: &str) -> usize {
    __xray_guard.len()
}

fn main() {
    let capture = ::xray_runtime::testing::capture();
    assert_eq!(shadow(1, 2, 3, 4), Ok(10));
    assert_eq!(shadow(0, 0, 0, 0), Err("zero".to_string()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(shadow_async(5)), Ok(5));
    assert_eq!(shadow_root("abc"), 3);

    let spans = capture.spans_named("shadow");
    assert_eq!(spans[0].attr_i64("__xray_span"), Some(1));
    assert_eq!(spans[0].attr_i64("__xray_out"), Some(2));
    assert_eq!(spans[0].attr_i64("__xray_recorder"), Some(3));
    assert_eq!(spans[0].attr_i64("xray.return"), Some(10));
    assert!(spans[1].event("exception").is_some());
    assert_eq!(
        capture.span("shadow_async").attr_i64("__xray_span"),
        Some(5)
    );
    assert_eq!(capture.span("shadow_root").attr_i64("xray.return"), Some(3));
}
