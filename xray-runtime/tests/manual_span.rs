//! Spans that are not one function call, named at run time.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use xray_runtime::propagation::XrayPropagator;
use xray_runtime::testing::{self, SpanStatus};
use xray_runtime::{Context, Span, SpanKind, traced};

#[traced]
fn handler() -> u16 {
    503
}

#[test]
fn a_request_span_continues_the_caller_and_records_the_outcome() {
    let capture = testing::capture();
    let headers = HashMap::from([(
        "x-amzn-trace-id".to_string(),
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".to_string(),
    )]);
    let parent = XrayPropagator::new().extract(&headers);
    let route = "/orders/{id}";
    let mut span = Span::root(format!("GET {route}"), SpanKind::Server, &parent);
    span.set_attribute("http.route", route);
    let status = span.in_scope(handler);
    span.set_attribute("http.response.status_code", i64::from(status));
    span.set_error("HTTP 503");
    drop(span);

    let request = capture.span("GET /orders/{id}");
    assert_eq!(request.trace_id, "1-5759e988-bd862e3fe1be46a994272793");
    assert_eq!(request.parent_span_id.as_deref(), Some("53995c3f42cd8ad8"));
    assert_eq!(request.kind, SpanKind::Server);
    assert_eq!(request.attr_i64("http.response.status_code"), Some(503));
    assert_eq!(request.status, SpanStatus::Error("HTTP 503".into()));
    assert_eq!(
        capture.span("handler").parent_span_id.as_deref(),
        Some(request.span_id.as_str())
    );
}

#[test]
fn an_instrumented_future_ends_the_span_when_it_completes() {
    let capture = testing::capture();
    let span = Span::root("consume orders", SpanKind::Consumer, &Context::new());
    let future = span.instrument(async { handler() }, |status| {
        xray_runtime::set_attribute("status", i64::from(*status));
        xray_runtime::set_status_error("failed");
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(future), 503);
    let span = capture.span("consume orders");
    assert_eq!(span.kind, SpanKind::Consumer);
    assert_eq!(span.attr_i64("status"), Some(503));
    assert_eq!(span.status, SpanStatus::Error("failed".into()));
    assert_eq!(
        capture.span("handler").parent_span_id.as_deref(),
        Some(span.span_id.as_str())
    );
}

#[test]
fn a_child_span_nests_under_the_current_one() {
    let capture = testing::capture();
    let mut outer = Span::child("outer", SpanKind::Internal);
    outer.in_scope(|| {
        let _inner = Span::child("inner", SpanKind::Client);
    });
    drop(outer);
    let outer = capture.span("outer");
    let inner = capture.span("inner");
    assert_eq!(
        inner.parent_span_id.as_deref(),
        Some(outer.span_id.as_str())
    );
    assert_eq!(inner.kind, SpanKind::Client);
}

#[test]
fn errors_and_events_are_recorded_on_a_span() {
    let capture = testing::capture();
    let mut span = Span::root("poll queue", SpanKind::Consumer, &Context::new());
    span.add_event("batch.received", [("messages", 3i64)]);
    span.record_error(&std::io::Error::other("queue closed"));
    drop(span);
    let span = capture.span("poll queue");
    assert_eq!(span.status, SpanStatus::Error("queue closed".into()));
    let event = span.event("batch.received").expect("event");
    assert_eq!(event.attr("messages").as_deref(), Some("3"));
    let exception = span.event("exception").expect("exception event");
    assert_eq!(
        exception.attr("exception.message").as_deref(),
        Some("queue closed")
    );
}
