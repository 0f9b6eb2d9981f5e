//! Code that uses the `opentelemetry` API directly inside a traced function
//! sees the traced span as its parent, and the configured propagators inject
//! the traced span's context.

use std::collections::HashMap;

use opentelemetry::Context;
use opentelemetry::global;
use opentelemetry::trace::{TraceContextExt, Tracer};
use xray_runtime::testing;
use xray_runtime::traced;

#[traced]
fn traced_outer() {
    // A library instrumented with plain OpenTelemetry.
    let tracer = global::tracer("some-library");
    tracer.in_span("library.call", |_cx| {});
}

#[test]
fn opentelemetry_spans_nest_under_traced_spans() {
    let capture = testing::capture();
    traced_outer();
    let outer = capture.span("traced_outer");
    let library = capture.span("library.call");
    assert_eq!(library.trace_id, outer.trace_id);
    assert_eq!(
        library.parent_span_id.as_deref(),
        Some(outer.span_id.as_str())
    );
}

#[traced]
fn inject_headers() -> HashMap<String, String> {
    let mut headers = HashMap::new();
    global::get_text_map_propagator(|p| p.inject_context(&Context::current(), &mut headers));
    headers
}

#[test]
fn the_global_propagator_injects_the_traced_span() {
    let capture = testing::capture();
    let headers = inject_headers();
    let span = capture.span("inject_headers");
    let xray = headers
        .get("x-amzn-trace-id")
        .expect("X-Ray header injected");
    assert_eq!(
        xray,
        &format!("Root={};Parent={};Sampled=1", span.trace_id, span.span_id)
    );
    let traceparent = headers.get("traceparent").expect("W3C header injected");
    assert!(traceparent.contains(&span.span_id), "{traceparent}");
    assert!(!Context::current().span().span_context().is_valid());
}

#[traced]
fn traced_inner() {}

#[traced]
fn outer_with_library_span() {
    let tracer = global::tracer("some-library");
    // The library makes its own span current, then calls traced code.
    tracer.in_span("library.section", |_cx| traced_inner());
    // Once it is closed, traced code nests under the traced span again.
    traced_inner();
}

#[test]
fn traced_spans_nest_under_spans_made_current_through_opentelemetry() {
    let capture = testing::capture();
    outer_with_library_span();
    let outer = capture.span("outer_with_library_span");
    let section = capture.span("library.section");
    let inner = capture.spans_named("traced_inner");
    assert_eq!(inner.len(), 2);
    assert_eq!(
        section.parent_span_id.as_deref(),
        Some(outer.span_id.as_str())
    );
    assert_eq!(
        inner[0].parent_span_id.as_deref(),
        Some(section.span_id.as_str())
    );
    assert_eq!(
        inner[1].parent_span_id.as_deref(),
        Some(outer.span_id.as_str())
    );
    assert!(inner.iter().all(|s| s.trace_id == outer.trace_id));
}

#[traced]
fn context_for_explicit_apis() -> (Context, Option<String>) {
    (
        xray_runtime::current_context(),
        xray_runtime::current_span_id(),
    )
}

#[test]
fn current_context_carries_the_traced_span() {
    let _capture = testing::capture();
    let (cx, span_id) = context_for_explicit_apis();
    assert_eq!(
        Some(cx.span().span_context().span_id().to_string()),
        span_id
    );
    assert!(cx.span().span_context().is_sampled());
    assert!(
        !xray_runtime::current_context()
            .span()
            .span_context()
            .is_valid()
    );
}
