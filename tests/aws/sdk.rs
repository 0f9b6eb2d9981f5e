//! The AWS SDK for Rust's own clients, traced with `XrayInterceptor`,
//! against moto: what each call's span says, what went on the wire, how
//! retries, throttling, errors, faults, timeouts and cancellation show, and
//! a trace that crosses an SQS queue from producer to consumer.

use std::time::Duration;

use aws_sdk_sqs::types::{Message, SendMessageBatchRequestEntry};
use xray_aws_tests::{Moto, REGION, Value, sdk_config};
use xray_runtime::aws::XrayInterceptor;
use xray_runtime::testing::{Capture, FinishedSpan, SpanStatus, capture};
use xray_runtime::{Context, Span, SpanKind, traced, xray_root};

/// Enough for moto; the fault cases use their own, shorter one.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The X-Ray form of a trace id, as a W3C `traceparent` spells it.
fn w3c_trace_id(xray: &str) -> String {
    xray.trim_start_matches("1-").replace('-', "")
}

/// What `span` injects into its requests, by the default propagators.
fn expected_headers(span: &FinishedSpan) -> (String, String) {
    (
        format!("Root={};Parent={};Sampled=1", span.trace_id, span.span_id),
        format!("00-{}-{}-01", w3c_trace_id(&span.trace_id), span.span_id),
    )
}

/// The AWS attributes every operation's span has.
fn assert_aws_span(span: &FinishedSpan, service: &str, method: &str) {
    assert_eq!(span.name, format!("{service}.{method}"));
    assert_eq!(span.attr_str("rpc.system"), Some("aws-api"), "{span:?}");
    assert_eq!(span.attr_str("rpc.service"), Some(service), "{span:?}");
    assert_eq!(span.attr_str("rpc.method"), Some(method), "{span:?}");
    assert_eq!(span.attr_str("cloud.region"), Some(REGION), "{span:?}");
}

/// The one span named `name` whose attribute `key` is `value`.
fn span_with(capture: &Capture, name: &str, key: &str, value: &str) -> FinishedSpan {
    let spans: Vec<_> = capture
        .spans_named(name)
        .into_iter()
        .filter(|s| s.attr(key).is_some_and(|v| v.as_str() == value))
        .collect();
    assert_eq!(spans.len(), 1, "{name} with {key}={value}: {spans:?}");
    spans.into_iter().next().expect("one span")
}

#[xray_root(name = "stock check")]
async fn stock_check(dynamodb: &aws_sdk_dynamodb::Client) -> Result<(), aws_sdk_dynamodb::Error> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
        KeysAndAttributes, Put, ScalarAttributeType, TransactWriteItem,
    };
    for table in ["orders", "stock"] {
        dynamodb
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("id")
                    .key_type(KeyType::Hash)
                    .build()?,
            )
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("id")
                    .attribute_type(ScalarAttributeType::S)
                    .build()?,
            )
            .send()
            .await?;
    }
    let id = |v: &str| AttributeValue::S(v.to_string());
    dynamodb
        .put_item()
        .table_name("orders")
        .item("id", id("7"))
        .send()
        .await?;
    let item = dynamodb
        .get_item()
        .table_name("orders")
        .key("id", id("7"))
        .send()
        .await?;
    assert!(item.item().is_some());
    let keys = |v: &str| {
        KeysAndAttributes::builder()
            .keys([("id".to_string(), id(v))].into())
            .build()
    };
    dynamodb
        .batch_get_item()
        .request_items("orders", keys("7")?)
        .request_items("stock", keys("7")?)
        .send()
        .await?;
    let put = |table: &str| {
        Put::builder()
            .table_name(table)
            .item("id", id("8"))
            .build()
            .map(|put| TransactWriteItem::builder().put(put).build())
    };
    dynamodb
        .transact_write_items()
        .transact_items(put("orders")?)
        .transact_items(put("stock")?)
        .send()
        .await?;
    Ok(())
}

#[test]
fn dynamodb_calls_are_client_spans_naming_their_tables_with_the_trace_on_the_wire() {
    let moto = Moto::start("dynamodb");
    let capture = capture();
    runtime().block_on(async {
        let config = sdk_config(&moto.endpoint(), ATTEMPT_TIMEOUT).await;
        let dynamodb = xray_runtime::aws_client!(aws_sdk_dynamodb, &config);
        stock_check(&dynamodb).await.expect("DynamoDB calls");
    });

    let root = capture.span("stock check");
    let get = capture.span("DynamoDB.GetItem");
    assert_aws_span(&get, "DynamoDB", "GetItem");
    get.assert_child_of(&root);
    assert_eq!(get.kind, SpanKind::Client);
    assert_eq!(get.status, SpanStatus::Unset);
    assert_eq!(
        get.attr_strings("aws.dynamodb.table_names"),
        Some(vec!["orders".to_string()])
    );
    assert_eq!(get.attr_i64("http.response.status_code"), Some(200));
    assert_eq!(get.attr_i64("xray.attempts"), Some(1));
    assert_eq!(get.attr("http.request.resend_count"), None);
    let request_id = get.attr_str("aws.request_id").expect("aws.request_id");
    assert!(!request_id.is_empty());

    let batch = capture.span("DynamoDB.BatchGetItem");
    let mut tables = batch
        .attr_strings("aws.dynamodb.table_names")
        .expect("tables");
    tables.sort();
    assert_eq!(tables, ["orders", "stock"]);
    let transaction = capture.span("DynamoDB.TransactWriteItems");
    assert_eq!(
        transaction.attr_strings("aws.dynamodb.table_names"),
        Some(vec!["orders".to_string(), "stock".to_string()])
    );
    assert_eq!(capture.spans_named("DynamoDB.CreateTable").len(), 2);
    for span in capture
        .spans()
        .iter()
        .filter(|s| s.name.starts_with("DynamoDB."))
    {
        span.assert_child_of(&root);
    }

    // What went on the wire: each request carries its own span's context.
    let (xray, traceparent) = expected_headers(&get);
    let requests = moto.requests_for("DynamoDB_20120810.GetItem");
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0]["headers"]["x-amzn-trace-id"], xray.as_str());
    assert_eq!(requests[0]["headers"]["traceparent"], traceparent.as_str());
    assert_eq!(requests[0]["status"], 200);
}

#[test]
fn s3_spans_name_buckets_and_keys_and_a_missing_key_is_a_client_error() {
    let moto = Moto::start("s3");
    let capture = capture();
    runtime().block_on(async {
        let config = sdk_config(&moto.endpoint(), ATTEMPT_TIMEOUT).await;
        // The interceptor on one client's own configuration.
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config)
                .force_path_style(true)
                .interceptor(XrayInterceptor::new())
                .build(),
        );
        let root = Span::root("upload", SpanKind::Server, &Context::new());
        root.instrument(
            async {
                s3.create_bucket()
                    .bucket("shop-photos")
                    .create_bucket_configuration(
                        aws_sdk_s3::types::CreateBucketConfiguration::builder()
                            .location_constraint(
                                aws_sdk_s3::types::BucketLocationConstraint::UsWest2,
                            )
                            .build(),
                    )
                    .send()
                    .await
                    .expect("CreateBucket");
                s3.put_object()
                    .bucket("shop-photos")
                    .key("photos/a b.jpg")
                    .body(b"jpeg".to_vec().into())
                    .send()
                    .await
                    .expect("PutObject");
                let missing = s3
                    .get_object()
                    .bucket("shop-photos")
                    .key("nothing/here")
                    .send()
                    .await;
                assert!(missing.is_err());
            },
            |_| {},
        )
        .await;
    });

    let put = capture.span("S3.PutObject");
    assert_aws_span(&put, "S3", "PutObject");
    assert_eq!(put.attr_str("aws.s3.bucket"), Some("shop-photos"));
    assert_eq!(put.attr_str("aws.s3.key"), Some("photos/a b.jpg"));
    assert_eq!(put.attr_i64("http.response.status_code"), Some(200));
    assert_eq!(put.status, SpanStatus::Unset);

    let missing = capture.span("S3.GetObject");
    assert_eq!(missing.attr_str("aws.s3.key"), Some("nothing/here"));
    assert_eq!(missing.attr_i64("http.response.status_code"), Some(404));
    assert_eq!(missing.attr_str("error.type"), Some("NoSuchKey"));
    assert_eq!(missing.attr("xray.throttle"), None);
    assert_eq!(
        missing.attr_i64("xray.attempts"),
        Some(1),
        "a 404 is not retried"
    );
    match &missing.status {
        SpanStatus::Error(message) => assert!(message.starts_with("NoSuchKey"), "{message}"),
        other => panic!("GetObject of a missing key: {other:?}"),
    }
    let exception = missing.event("exception").expect("an exception event");
    assert_eq!(
        exception.attr("exception.type").as_deref(),
        Some("NoSuchKey")
    );

    let requests = moto.peer.records();
    let put_request = requests
        .iter()
        .find(|r| {
            r["method"] == "PUT"
                && r["path"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("/shop-photos/photos"))
        })
        .expect("the PutObject request");
    assert_eq!(
        put_request["headers"]["x-amzn-trace-id"],
        expected_headers(&put).0.as_str()
    );
}

fn entry(id: &str, body: &str) -> SendMessageBatchRequestEntry {
    SendMessageBatchRequestEntry::builder()
        .id(id)
        .message_body(body)
        .build()
        .expect("a batch entry")
}

#[xray_root(name = "place orders")]
async fn place_orders(sqs: &aws_sdk_sqs::Client, queue: &str) -> Result<(), aws_sdk_sqs::Error> {
    sqs.send_message()
        .queue_url(queue)
        .message_body("order 1")
        .send()
        .await?;
    sqs.send_message_batch()
        .queue_url(queue)
        .entries(entry("a", "order 2"))
        .entries(entry("b", "order 3"))
        .send()
        .await?;
    Ok(())
}

/// A consumer handling one message: it continues the message's trace.
/// (`message` is read only by the attribute: unused when tracing is
/// compiled out.)
#[allow(unused_variables)]
#[xray_root(kind = consumer, name = "process order", trace_header = xray_runtime::aws::trace_header(message), attrs(body = message.body().unwrap_or_default()))]
fn process_order(message: &Message) -> Option<String> {
    xray_runtime::current_trace_id()
}

#[test]
fn an_sqs_message_carries_its_producers_trace_to_the_consumer() {
    let moto = Moto::start("sqs");
    let capture = capture();
    let received: Vec<Message> = runtime().block_on(async {
        let config = sdk_config(&moto.endpoint(), ATTEMPT_TIMEOUT).await;
        let sqs = xray_runtime::aws_client!(aws_sdk_sqs, &config);
        let queue = sqs
            .create_queue()
            .queue_name("orders")
            .send()
            .await
            .expect("CreateQueue")
            .queue_url()
            .expect("a queue URL")
            .to_string();
        place_orders(&sqs, &queue).await.expect("sends");
        // The consumer asks for no attribute: the interceptor asks for
        // AWSTraceHeader itself.
        let mut received = Vec::new();
        for _ in 0..10 {
            let answer = sqs
                .receive_message()
                .queue_url(&queue)
                .max_number_of_messages(10)
                .send()
                .await
                .expect("ReceiveMessage");
            received.extend(answer.messages().iter().cloned());
            if received.len() >= 3 {
                break;
            }
        }
        received
    });
    assert_eq!(received.len(), 3, "{received:?}");
    for message in &received {
        process_order(message);
    }

    let root = capture.span("place orders");
    let send = capture.span("SQS.SendMessage");
    assert_aws_span(&send, "SQS", "SendMessage");
    send.assert_child_of(&root);
    assert_eq!(send.kind, SpanKind::Producer);
    assert_eq!(send.attr_str("messaging.system"), Some("aws_sqs"));
    assert_eq!(send.attr_str("messaging.destination.name"), Some("orders"));
    assert_eq!(send.attr_str("messaging.operation.type"), Some("send"));
    assert!(
        send.attr_str("aws.sqs.queue.url")
            .is_some_and(|u| u.ends_with("/orders"))
    );

    let batch = capture.span("SQS.SendMessageBatch");
    batch.assert_child_of(&root);
    assert_eq!(batch.kind, SpanKind::Client);
    assert_eq!(batch.attr_i64("messaging.batch.message_count"), Some(2));
    let creates = capture.spans_named("create orders");
    assert_eq!(creates.len(), 2);
    for create in &creates {
        create.assert_child_of(&batch);
        assert_eq!(create.kind, SpanKind::Producer);
        assert!(
            batch.links.iter().any(|l| l.span_id == create.span_id),
            "{batch:?}"
        );
    }

    // Each message continues the trace of the span that sent it.
    for message in &received {
        let body = message.body().expect("a body");
        let consumer = span_with(&capture, "process order", "body", body);
        assert_eq!(consumer.kind, SpanKind::Consumer);
        assert_eq!(consumer.trace_id, root.trace_id, "{body}");
        assert!(consumer.parent_is_remote);
        let producer = if body == "order 1" {
            &send
        } else {
            let parent = consumer.parent_span_id.as_deref().expect("a parent");
            creates
                .iter()
                .find(|c| c.span_id == parent)
                .expect("a create span")
        };
        assert_eq!(
            consumer.parent_span_id.as_deref(),
            Some(producer.span_id.as_str()),
            "{body}"
        );
        assert_eq!(
            xray_runtime::aws::trace_header(message),
            Some(expected_headers(producer).0.as_str())
        );
    }
    let parents: std::collections::HashSet<_> = capture
        .spans_named("process order")
        .into_iter()
        .filter_map(|s| s.parent_span_id)
        .collect();
    assert_eq!(parents.len(), 3, "one producer each");

    // One receive handling the whole batch links to every producer.
    let mut handler = Span::root("process orders", SpanKind::Consumer, &Context::new());
    assert_eq!(xray_runtime::aws::link_messages(&mut handler, &received), 3);
    drop(handler);
    let handler = capture.span("process orders");
    assert_ne!(handler.trace_id, root.trace_id);
    for message in &received {
        let id = message.message_id().expect("a message id");
        let link = handler
            .links
            .iter()
            .find(|l| {
                l.attributes
                    .iter()
                    .any(|(k, v)| k == "messaging.message.id" && v.as_str() == id)
            })
            .expect("a link per message");
        assert_eq!(link.trace_id, root.trace_id);
    }

    // On the wire: the HTTP header of SendMessage is its span's context.
    let sent = moto.requests_for("AmazonSQS.SendMessage");
    assert_eq!(
        sent[0]["headers"]["x-amzn-trace-id"],
        expected_headers(&send).0.as_str()
    );
    let receive = capture.spans_named("SQS.ReceiveMessage");
    assert!(!receive.is_empty());
    assert_eq!(
        receive[0].attr_str("messaging.operation.type"),
        Some("receive")
    );
}

/// One GetItem on `client`, its outcome and span.
fn get_item(
    runtime: &tokio::runtime::Runtime,
    capture: &Capture,
    client: &aws_sdk_dynamodb::Client,
) -> (bool, FinishedSpan) {
    capture.clear();
    let ok = runtime.block_on(async {
        client
            .get_item()
            .table_name("orders")
            .key("id", aws_sdk_dynamodb::types::AttributeValue::S("7".into()))
            .send()
            .await
            .is_ok()
    });
    (ok, capture.span("DynamoDB.GetItem"))
}

fn fault(moto: &Moto, status: u16, code: &str, count: u32) {
    moto.fault(&format!(
        r#"{{"mode": "status", "status": {status}, "error_code": "{code}", "message": "injected {code}", "count": {count}, "target": "DynamoDB_20120810.GetItem"}}"#
    ));
}

fn error_message(span: &FinishedSpan) -> &str {
    match &span.status {
        SpanStatus::Error(message) => message,
        other => panic!("{} is not failed: {other:?}", span.name),
    }
}

#[test]
fn throttles_client_errors_faults_timeouts_and_cancellations_are_told_apart() {
    let moto = Moto::start("faults");
    let runtime = runtime();
    let capture = capture();
    let client = runtime.block_on(async {
        let config = sdk_config(&moto.endpoint(), Duration::from_millis(400)).await;
        let client = xray_runtime::aws_client!(aws_sdk_dynamodb, &config);
        client
            .create_table()
            .table_name("orders")
            .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
            .key_schema(
                aws_sdk_dynamodb::types::KeySchemaElement::builder()
                    .attribute_name("id")
                    .key_type(aws_sdk_dynamodb::types::KeyType::Hash)
                    .build()
                    .expect("key schema"),
            )
            .attribute_definitions(
                aws_sdk_dynamodb::types::AttributeDefinition::builder()
                    .attribute_name("id")
                    .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                    .build()
                    .expect("attribute"),
            )
            .send()
            .await
            .expect("CreateTable");
        client
    });

    // Throttled twice, then served: one span, three attempts, the two
    // failures as events, every attempt with the same trace context.
    fault(&moto, 400, "ProvisionedThroughputExceededException", 2);
    let before = moto.requests_for("DynamoDB_20120810.GetItem").len();
    let (ok, span) = get_item(&runtime, &capture, &client);
    assert!(ok);
    assert_eq!(span.status, SpanStatus::Unset);
    assert_eq!(span.attr_i64("xray.attempts"), Some(3));
    assert_eq!(span.attr_i64("http.request.resend_count"), Some(2));
    assert_eq!(span.attr_i64("http.response.status_code"), Some(200));
    let failures: Vec<_> = span
        .events
        .iter()
        .filter(|e| e.name == "HTTP request failure")
        .collect();
    assert_eq!(failures.len(), 2, "{span:?}");
    for failure in failures {
        assert_eq!(
            failure.attr("http.response.status_code").as_deref(),
            Some("400")
        );
        assert_eq!(
            failure.attr("aws.http.error_message").as_deref(),
            Some(
                "ProvisionedThroughputExceededException: injected ProvisionedThroughputExceededException"
            )
        );
    }
    let attempts = moto.requests_for("DynamoDB_20120810.GetItem");
    assert_eq!(attempts.len() - before, 3);
    let header = expected_headers(&span).0;
    for attempt in &attempts[before..] {
        assert_eq!(
            attempt["headers"]["x-amzn-trace-id"],
            header.as_str(),
            "{attempt}"
        );
    }
    let modes: Vec<&Value> = attempts[before..].iter().map(|a| &a["mode"]).collect();
    assert_eq!(modes, ["status", "status", "ok"]);

    // Throttled on every attempt: a throttle, with a 400.
    fault(&moto, 400, "ProvisionedThroughputExceededException", 3);
    let (ok, span) = get_item(&runtime, &capture, &client);
    assert!(!ok);
    assert_eq!(
        error_message(&span),
        "ProvisionedThroughputExceededException: injected ProvisionedThroughputExceededException"
    );
    assert_eq!(
        span.attr_str("error.type"),
        Some("ProvisionedThroughputExceededException")
    );
    assert_eq!(span.attr_bool("xray.throttle"), Some(true));
    assert_eq!(span.attr_i64("http.response.status_code"), Some(400));
    assert_eq!(span.attr_i64("xray.attempts"), Some(3));
    assert_eq!(
        span.event("exception")
            .and_then(|e| e.attr("exception.type"))
            .as_deref(),
        Some("ProvisionedThroughputExceededException")
    );
    assert_eq!(
        span.attr_str("aws.request_id")
            .map(|id| id.starts_with("moto-peer-fault-")),
        Some(true)
    );

    // 429: throttled, as X-Ray reads it from the status alone.
    fault(&moto, 429, "ThrottlingException", 3);
    let (_, span) = get_item(&runtime, &capture, &client);
    assert_eq!(span.attr_i64("http.response.status_code"), Some(429));
    assert_eq!(span.attr_bool("xray.throttle"), Some(true));

    // A fault: 5xx, retried, not a throttle.
    fault(&moto, 500, "InternalServerError", 3);
    let (ok, span) = get_item(&runtime, &capture, &client);
    assert!(!ok);
    assert_eq!(span.attr_i64("http.response.status_code"), Some(500));
    assert_eq!(span.attr_str("error.type"), Some("InternalServerError"));
    assert_eq!(span.attr("xray.throttle"), None);
    assert_eq!(span.attr_i64("xray.attempts"), Some(3));

    // A client error: not retried.
    fault(&moto, 400, "ValidationException", 1);
    let (ok, span) = get_item(&runtime, &capture, &client);
    assert!(!ok);
    assert_eq!(span.attr_str("error.type"), Some("ValidationException"));
    assert_eq!(span.attr_i64("http.response.status_code"), Some(400));
    assert_eq!(span.attr("xray.throttle"), None);
    assert_eq!(span.attr_i64("xray.attempts"), Some(1));
    assert!(error_message(&span).starts_with("ValidationException: injected"));

    // Timeouts: every attempt outlives its 400 ms. No answer, no status.
    moto.fault(
        r#"{"mode": "slow", "delay_ms": 1500, "count": 3, "target": "DynamoDB_20120810.GetItem"}"#,
    );
    let (ok, span) = get_item(&runtime, &capture, &client);
    assert!(!ok);
    assert_eq!(span.attr_str("error.type"), Some("timeout"));
    assert_eq!(span.attr("http.response.status_code"), None);
    assert_eq!(span.attr_i64("xray.attempts"), Some(3));
    assert!(!error_message(&span).is_empty());

    // The caller gives up: the dropped call's span ends, marked cancelled.
    moto.fault(r#"{"mode": "hang", "target": "DynamoDB_20120810.GetItem"}"#);
    capture.clear();
    runtime.block_on(async {
        let call = client
            .get_item()
            .table_name("orders")
            .key("id", aws_sdk_dynamodb::types::AttributeValue::S("7".into()))
            .send();
        assert!(
            tokio::time::timeout(Duration::from_millis(150), call)
                .await
                .is_err()
        );
    });
    let span = capture.span("DynamoDB.GetItem");
    assert_eq!(span.attr_bool("xray.cancelled"), Some(true));
    moto.fault(r#"{"mode": "ok"}"#);
}

#[test]
fn a_transport_failure_is_a_fault_without_a_status() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let capture = capture();
    let runtime = runtime();
    let ok = runtime.block_on(async {
        let config = sdk_config(&format!("http://127.0.0.1:{port}"), ATTEMPT_TIMEOUT).await;
        let client = xray_runtime::aws_client!(aws_sdk_sqs, &config);
        client.list_queues().send().await.is_ok()
    });
    assert!(!ok);
    let span = capture.span("SQS.ListQueues");
    assert_eq!(span.attr("http.response.status_code"), None);
    assert_eq!(span.attr_str("error.type"), Some("io"));
    assert!(
        error_message(&span).to_lowercase().contains("connect"),
        "{span:?}"
    );
    assert_eq!(
        span.attr_i64("xray.attempts"),
        Some(3),
        "transport errors are retried"
    );
}

#[traced]
async fn fan_out(sqs: &aws_sdk_sqs::Client) -> usize {
    // Operations moved to other tasks (and threads): their futures are
    // `Send`, and the carried span stays their parent.
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let sqs = sqs.clone();
            xray_runtime::spawn(async move { sqs.list_queues().send().await.is_ok() })
        })
        .collect();
    let mut ok = 0;
    for call in calls {
        if call.await.unwrap_or(false) {
            ok += 1;
        }
    }
    ok
}

#[test]
fn spans_follow_operations_to_other_tasks_and_threads() {
    let moto = Moto::start("tasks");
    let capture = capture();
    let ok = runtime().block_on(async {
        let config = sdk_config(&moto.endpoint(), ATTEMPT_TIMEOUT).await;
        let sqs = xray_runtime::aws_client!(aws_sdk_sqs, &config);
        fan_out(&sqs).await
    });
    assert_eq!(ok, 4);
    let parent = capture.span("fan_out");
    let calls = capture.spans_named("SQS.ListQueues");
    assert_eq!(calls.len(), 4);
    for call in &calls {
        call.assert_child_of(&parent);
    }
    let ids: std::collections::HashSet<_> = calls.iter().map(|c| c.span_id.clone()).collect();
    assert_eq!(ids.len(), 4);
    let headers: std::collections::HashSet<_> = moto
        .requests_for("AmazonSQS.ListQueues")
        .iter()
        .map(|r| {
            r["headers"]["x-amzn-trace-id"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    let expected: std::collections::HashSet<_> =
        calls.iter().map(|c| expected_headers(c).0).collect();
    assert_eq!(headers, expected);
}
