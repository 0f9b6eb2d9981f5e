use std::fmt::Debug;

use xray_runtime::traced;

#[derive(Debug)]
struct Empty;

impl std::fmt::Display for Empty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the vector is empty")
    }
}

impl std::error::Error for Empty {}

#[traced(err)]
fn first<'a>(v: &'a mut Vec<u8>) -> Result<&'a mut u8, Empty> {
    v.first_mut().ok_or(Empty)
}

#[traced(args(items), ret)]
fn largest<T>(items: &[T]) -> Option<&T>
where
    T: Ord + Debug,
{
    items.iter().max()
}

#[traced(ret)]
fn sum<const N: usize>(values: [u32; N]) -> u32 {
    values.iter().sum()
}

#[traced]
fn longest<'a, 'b: 'a>(a: &'a str, b: &'b str) -> &'a str {
    if a.len() >= b.len() { a } else { b }
}

struct Wrapper<T>(T);

impl<T: Clone + Debug> Wrapper<T> {
    #[traced(ret)]
    fn get<U>(&self, other: U) -> (T, U)
    where
        U: Debug,
    {
        (self.0.clone(), other)
    }
}

fn main() {
    let capture = xray_runtime::testing::capture();
    let mut v = vec![1, 2];
    *first(&mut v).unwrap() = 9;
    assert_eq!(v, [9, 2]);
    assert!(first(&mut Vec::new()).is_err());
    assert_eq!(largest(&[3, 7, 5]), Some(&7));
    assert_eq!(sum([1, 2, 3]), 6);
    assert_eq!(longest("ab", "abc"), "abc");
    assert_eq!(Wrapper("x").get(1u8), ("x", 1));

    let firsts = capture.spans_named("first");
    assert_eq!(firsts[0].status, xray_runtime::testing::SpanStatus::Unset);
    assert_eq!(
        firsts[1].status,
        xray_runtime::testing::SpanStatus::Error("the vector is empty".into())
    );
    assert!(firsts[1].event("exception").is_some());
    let largest = capture.span("largest");
    // `T` is generic: the value is recorded through its `Debug` bound.
    assert_eq!(largest.attr_str("items"), Some("[3, 7, 5]"));
    assert_eq!(largest.attr_str("xray.return"), Some("Some(7)"));
    assert_eq!(capture.span("sum").attr_i64("xray.return"), Some(6));
    capture.span("longest");
    assert_eq!(
        capture.span("get").attr_str("xray.return"),
        Some("(\"x\", 1)")
    );
}
