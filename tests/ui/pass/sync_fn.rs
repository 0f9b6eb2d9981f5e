use xray_runtime::traced;

#[traced]
fn add(a: i32, b: i32) -> i32 {
    a + b
}

#[traced]
fn outer() -> i32 {
    add(1, 1) * 10
}

#[traced(name = "unit work")]
fn unit() {}

#[traced(args(x, label))]
fn r#match((x, _): (u8, u8), Wrapper { label }: Wrapper) -> bool {
    x > 0 && !label.is_empty()
}

struct Wrapper {
    label: &'static str,
}

fn main() {
    let capture = xray_runtime::testing::capture();
    assert_eq!(add(2, 3), 5);
    unit();
    let span = capture.span("add");
    assert!(span.is_root());
    assert_eq!(format!("{:?}", span.kind), "Internal");
    assert!(span.attributes.is_empty());
    capture.span("unit work");
    assert!(r#match((1, 2), Wrapper { label: "a" }));
    let span = capture.span("match");
    assert_eq!(span.attr_i64("x"), Some(1));
    assert_eq!(span.attr_str("label"), Some("a"));
    capture.clear();
    assert_eq!(outer(), 20);
    let outer = capture.span("outer");
    let children = capture.children(&outer);
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].name, "add");
}
