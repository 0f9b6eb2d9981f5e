use xray_runtime::traced;

#[traced(annotations(
    tier = "gold",
    customer = customer,
    owned = String::from("owned"),
    vip = true,
    count = 3u8,
    big = u64::MAX,
    signed = -7i32,
    ratio = 0.25f64,
    r#type = "keyword",
    Upper_Case_9 = 1,
    "quoted" = "literal key",
), attrs(also.an.attr = 1))]
fn handle(customer: &String) {}

fn main() {
    let capture = xray_runtime::testing::capture();
    handle(&"ann".to_string());
    let span = capture.span("handle");
    assert_eq!(span.attr_str("tier"), Some("gold"));
    assert_eq!(span.attr_str("customer"), Some("ann"));
    assert_eq!(span.attr_str("owned"), Some("owned"));
    assert_eq!(span.attr_bool("vip"), Some(true));
    assert_eq!(span.attr_i64("count"), Some(3));
    assert_eq!(span.attr_str("big"), Some("18446744073709551615"));
    assert_eq!(span.attr_i64("signed"), Some(-7));
    assert_eq!(span.attr_f64("ratio"), Some(0.25));
    assert_eq!(span.attr_str("type"), Some("keyword"));
    assert_eq!(span.attr_i64("Upper_Case_9"), Some(1));
    assert_eq!(span.attr_str("quoted"), Some("literal key"));
    assert_eq!(span.attr_i64("also.an.attr"), Some(1));
    assert_eq!(
        span.annotation_keys(),
        [
            "tier",
            "customer",
            "owned",
            "vip",
            "count",
            "big",
            "signed",
            "ratio",
            "type",
            "Upper_Case_9",
            "quoted",
        ]
    );
}
