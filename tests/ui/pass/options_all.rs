use xray_runtime::testing::SpanStatus;
use xray_runtime::traced;

struct Order {
    id: u64,
    lines: Vec<&'static str>,
}

#[traced(
    name = "order.submit",
    kind = producer,
    args(order_id, retries),
    attrs(order.lines = order.lines.len(), order.first = %order.lines[0], order.raw = ?order.lines),
    annotations(customer = customer, priority = retries > 2),
    err,
    ret,
)]
fn submit(order: &Order, order_id: u64, retries: u8, customer: &str) -> Result<u64, String> {
    if retries > 5 {
        return Err(format!("gave up on {}", order.id));
    }
    Ok(order_id * 10)
}

#[traced(err = false, ret(?))]
fn quiet() -> Result<u8, String> {
    Err("not recorded as an error".into())
}

type Outcome = std::result::Result<u8, String>;

#[traced(err, ret(?))]
fn forced() -> Outcome {
    Err("recorded".into())
}

#[traced(kind = client, ret(%))]
async fn call() -> &'static str {
    "done"
}

fn main() {
    let capture = xray_runtime::testing::capture();
    let order = Order {
        id: 7,
        lines: vec!["a", "b"],
    };
    assert_eq!(submit(&order, 7, 3, "ann"), Ok(70));
    assert!(submit(&order, 7, 9, "bob").is_err());
    assert!(quiet().is_err());
    assert!(forced().is_err());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(call()), "done");

    let spans = capture.spans_named("order.submit");
    let ok = &spans[0];
    assert_eq!(format!("{:?}", ok.kind), "Producer");
    assert_eq!(ok.attr_i64("order_id"), Some(7));
    assert_eq!(ok.attr_i64("retries"), Some(3));
    assert_eq!(ok.attr_i64("order.lines"), Some(2));
    assert_eq!(ok.attr_str("order.first"), Some("a"));
    assert_eq!(ok.attr_str("order.raw"), Some("[\"a\", \"b\"]"));
    assert_eq!(ok.attr_str("customer"), Some("ann"));
    assert_eq!(ok.attr_bool("priority"), Some(true));
    assert_eq!(ok.annotation_keys(), ["customer", "priority"]);
    assert_eq!(ok.attr_i64("xray.return"), Some(70));
    assert_eq!(ok.status, SpanStatus::Unset);
    let failed = &spans[1];
    assert_eq!(failed.status, SpanStatus::Error("gave up on 7".into()));
    assert_eq!(failed.attr("xray.return"), None);

    let quiet = capture.span("quiet");
    assert_eq!(quiet.status, SpanStatus::Unset);
    assert_eq!(quiet.attr("xray.return"), None);

    let forced = capture.span("forced");
    assert_eq!(forced.status, SpanStatus::Error("recorded".into()));
    // Behind an alias, a `Result` is still a `Result`: `ret` records only an `Ok` value.
    assert_eq!(forced.attr("xray.return"), None);

    let call = capture.span("call");
    assert_eq!(format!("{:?}", call.kind), "Client");
    assert_eq!(call.attr_str("xray.return"), Some("done"));
}
