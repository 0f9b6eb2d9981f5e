// Patterns in arguments: `args(...)` names the bindings.
use xray_runtime::traced;

#[derive(Clone, Copy)]
struct Point {
    x: i32,
    #[allow(dead_code)]
    y: i32,
}

struct Pair(u8, u8);

#[traced(args(a, b, x))]
fn tuple_and_struct((a, b): (u32, u32), Point { x, .. }: Point) -> i64 {
    i64::from(a + b) + i64::from(x)
}

#[traced(args(first, renamed, left, whole))]
fn nested(
    [first, ..]: [u8; 3],
    Point { x: renamed, .. }: Point,
    Pair(left, _): Pair,
    whole @ (_, _): (u8, u8),
) -> u8 {
    first + left + whole.0 + renamed as u8
}

#[traced(args(value, counter))]
fn refs(&value: &u32, mut counter: u32) -> u32 {
    counter += value;
    counter
}

#[traced(args(a, x))]
async fn async_patterns((a, _): (u32, u32), Point { x, .. }: Point) -> i64 {
    i64::from(a) + i64::from(x)
}

fn main() {
    let capture = xray_runtime::testing::capture();
    let point = Point { x: 3, y: 4 };
    assert_eq!(tuple_and_struct((1, 2), point), 6);
    assert_eq!(nested([1, 2, 3], point, Pair(4, 5), (6, 0)), 14);
    assert_eq!(refs(&5, 1), 6);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(async_patterns((7, 8), point)), 10);

    let span = capture.span("tuple_and_struct");
    assert_eq!(span.attr_i64("a"), Some(1));
    assert_eq!(span.attr_i64("b"), Some(2));
    assert_eq!(span.attr_i64("x"), Some(3));
    let span = capture.span("nested");
    assert_eq!(span.attr_i64("first"), Some(1));
    assert_eq!(span.attr_i64("renamed"), Some(3));
    assert_eq!(span.attr_i64("left"), Some(4));
    assert_eq!(span.attr_str("whole"), Some("(6, 0)"));
    let span = capture.span("refs");
    assert_eq!(span.attr_i64("value"), Some(5));
    assert_eq!(span.attr_i64("counter"), Some(1), "recorded at entry");
    let span = capture.span("async_patterns");
    assert_eq!(span.attr_i64("a"), Some(7));
    assert_eq!(span.attr_i64("x"), Some(3));
}
