use std::fmt;

use xray_runtime::traced;

/// Display only.
struct Money(u32);

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${}", self.0)
    }
}

/// Debug only.
#[derive(Debug)]
struct Point {
    x: i8,
}

#[traced(attrs(
    int = 42u8,
    wide = u64::MAX,
    negative = -3i64,
    float = 1.5f32,
    flag = true,
    text = "plain",
    owned = String::from("owned"),
    letter = 'z',
    list = vec![1, 2, 3],
    slice = &["a", "b"][..],
    array = [true, false],
    boxed = Box::<str>::from("boxed"),
    money = %Money(5),
    point = ?Point { x: 1 },
    point.auto = Point { x: 2 },
    maybe = Some(4),
    http.request.method = "GET",
    "aws.remote.service" = "dynamodb",
    "with space" = 1,
    type = "keyword",
    fn.r#match = "raw",
    arg.len = input.len(),
))]
fn record(input: &str) {}

fn main() {
    let capture = xray_runtime::testing::capture();
    record("four");
    let span = capture.span("record");
    assert_eq!(span.attr_i64("int"), Some(42));
    assert_eq!(span.attr_str("wide"), Some("18446744073709551615"));
    assert_eq!(span.attr_i64("negative"), Some(-3));
    assert_eq!(span.attr_f64("float"), Some(1.5));
    assert_eq!(span.attr_bool("flag"), Some(true));
    assert_eq!(span.attr_str("text"), Some("plain"));
    assert_eq!(span.attr_str("owned"), Some("owned"));
    assert_eq!(span.attr_str("letter"), Some("z"));
    assert_eq!(span.attr("list").unwrap().to_string(), "[1,2,3]");
    assert_eq!(
        span.attr_strings("slice"),
        Some(vec!["a".into(), "b".into()])
    );
    assert_eq!(span.attr("array").unwrap().to_string(), "[true,false]");
    assert_eq!(span.attr_str("boxed"), Some("boxed"));
    assert_eq!(span.attr_str("money"), Some("$5"));
    assert_eq!(span.attr_str("point"), Some("Point { x: 1 }"));
    assert_eq!(span.attr_str("point.auto"), Some("Point { x: 2 }"));
    assert_eq!(span.attr_str("maybe"), Some("Some(4)"));
    assert_eq!(span.attr_str("http.request.method"), Some("GET"));
    assert_eq!(span.attr_str("aws.remote.service"), Some("dynamodb"));
    assert_eq!(span.attr_i64("with space"), Some(1));
    assert_eq!(span.attr_str("type"), Some("keyword"));
    assert_eq!(span.attr_str("fn.match"), Some("raw"));
    assert_eq!(span.attr_i64("arg.len"), Some(4));
    assert!(span.annotation_keys().is_empty());
}
