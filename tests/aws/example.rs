//! The AWS example run as a process against moto, its spans sent to a
//! local OTLP receiver: the checkout, DynamoDB and SQS calls, and the
//! consumer that ships the order are one trace.

use xray_aws_tests::{Moto, Peer, REGION, Value, run, scratch, spans};

#[test]
fn the_aws_orders_example_is_one_trace_across_dynamodb_and_sqs() {
    let moto = Moto::start("example-moto");
    let dir = scratch("example");
    let receiver = Peer::start("otlp_receiver.py", &dir, &[]);
    let otlp = format!("http://127.0.0.1:{}", receiver.port());
    let run = run(
        env!("CARGO_BIN_EXE_aws-orders"),
        &[],
        &[
            ("AWS_ENDPOINT_URL", moto.endpoint().as_str()),
            ("AWS_REGION", REGION),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.as_str()),
            ("OTEL_RESOURCE_DETECTORS", "none"),
        ],
    );
    assert!(run.status.success(), "{run}");
    assert!(run.stdout.contains("orders shipped: 1"), "{run}");
    let trace = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("order 7: trace 1-"))
        .unwrap_or_else(|| panic!("no trace id{run}"))
        .replace('-', "");

    let records = receiver.records();
    assert_eq!(records[0]["resource_attributes"]["service.name"], "orders");
    let spans = spans(&records);
    let in_trace: Vec<&Value> = spans
        .iter()
        .filter(|s| s["trace_id"] == trace.as_str())
        .collect();
    let named = |name: &str| -> &Value {
        in_trace
            .iter()
            .find(|s| s["name"] == name)
            .copied()
            .unwrap_or_else(|| panic!("no {name} in the trace: {in_trace:?}"))
    };
    let checkout = named("POST /checkout");
    let put = named("DynamoDB.PutItem");
    let send = named("SQS.SendMessage");
    let ship = named("ship order");
    let update = named("DynamoDB.UpdateItem");
    let delete = named("SQS.DeleteMessage");
    assert_eq!(put["parent_span_id"], checkout["span_id"]);
    assert_eq!(send["parent_span_id"], checkout["span_id"]);
    assert_eq!(
        ship["parent_span_id"], send["span_id"],
        "the consumer continues the producer"
    );
    assert_eq!(update["parent_span_id"], ship["span_id"]);
    assert_eq!(delete["parent_span_id"], ship["span_id"]);
    assert_eq!(
        send["attributes"]["aws.sqs.queue.url"]
            .as_str()
            .map(|u| u.ends_with("/xray-orders")),
        Some(true)
    );
    assert_eq!(
        update["attributes"]["aws.dynamodb.table_names"],
        Value::from(vec!["xray-orders"])
    );
    assert_eq!(in_trace.len(), 6, "{in_trace:?}");
}
