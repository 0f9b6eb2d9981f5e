use xray_runtime::traced;

/// Not a `Result`, though its name ends like one.
#[derive(Debug, PartialEq)]
struct QueryResult {
    rows: u32,
}

// Whether a value is a `Result` is decided by its type, not its name: this
// records no error and, with `ret`, the whole value.
#[traced(ret, attrs(kind = "query"))]
fn query() -> QueryResult {
    QueryResult { rows: 2 }
}

fn main() {
    let capture = xray_runtime::testing::capture();
    assert_eq!(query(), QueryResult { rows: 2 });
    let span = capture.span("query");
    assert_eq!(span.attr_str("kind"), Some("query"));
    assert_eq!(span.attr_str("xray.return"), Some("QueryResult { rows: 2 }"));
    assert_eq!(span.status, xray_runtime::testing::SpanStatus::Unset);
}
