//! Configurations 6-8: X-Ray trace ids, the `X-Amzn-Trace-Id` header and
//! the exporters' per-span cost.

use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::{Duration, SystemTime};

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Array, Context, InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{
    IdGenerator, RandomIdGenerator, SpanData, SpanEvents, SpanExporter, SpanLinks,
};
use xray_runtime::export::{ConsoleExporter, JsonExporter};
use xray_runtime::propagation::{XRAY_HEADER, XrayHeader, XrayPropagator};

/// A typical incoming header: root, parent and a sampling decision.
pub const HEADER: &str =
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

// ---------------------------------------------------------------------------
// Ids

/// An X-Ray trace id from xray's generator.
#[inline(never)]
pub fn xray_trace_id() -> TraceId {
    xray_runtime::XrayIdGenerator::default().new_trace_id()
}

/// An X-Ray trace id from `opentelemetry-aws`' generator.
#[inline(never)]
pub fn aws_trace_id() -> TraceId {
    opentelemetry_aws::trace::XrayIdGenerator::default().new_trace_id()
}

/// A (non X-Ray) trace id from the SDK's default generator, for reference.
#[inline(never)]
pub fn sdk_trace_id() -> TraceId {
    RandomIdGenerator::default().new_trace_id()
}

// ---------------------------------------------------------------------------
// Header parse and format

/// xray: parses [`HEADER`]-like values.
#[inline(never)]
pub fn xray_parse(value: &str) -> Option<XrayHeader> {
    XrayHeader::parse(value)
}

/// xray: formats a parsed header.
#[inline(never)]
pub fn xray_format(header: &XrayHeader) -> String {
    header.to_header_value()
}

/// opentelemetry-aws: parses a header value into a span context.
#[inline(never)]
pub fn aws_parse(value: &str) -> Option<SpanContext> {
    opentelemetry_aws::trace::xray_propagator::span_context_from_str(value)
}

/// opentelemetry-aws: formats a span context as a header value.
#[inline(never)]
pub fn aws_format(span_context: &SpanContext) -> Option<String> {
    opentelemetry_aws::trace::xray_propagator::span_context_to_string(span_context)
}

/// A parsed [`HEADER`], the input of the format benchmarks.
pub fn parsed_header() -> XrayHeader {
    XrayHeader::parse(HEADER).expect("HEADER is a valid X-Ray header")
}

/// The span context of [`HEADER`], the input of the format benchmarks.
pub fn header_span_context() -> SpanContext {
    SpanContext::new(
        TraceId::from(0x5759e988_bd862e3f_e1be46a9_94272793_u128),
        SpanId::from(0x53995c3f42cd8ad8_u64),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    )
}

// ---------------------------------------------------------------------------
// Propagators through HashMap carriers

/// A carrier holding [`HEADER`] (lower-case name, as `HashMap` extraction
/// looks names up in lower case).
pub fn carrier() -> HashMap<String, String> {
    HashMap::from([(XRAY_HEADER.to_owned(), HEADER.to_owned())])
}

/// A context whose current span is the remote span of [`HEADER`].
pub fn context() -> Context {
    Context::new().with_remote_span_context(header_span_context())
}

/// xray's propagator extracting from a carrier.
#[inline(never)]
pub fn xray_extract(propagator: &XrayPropagator, carrier: &HashMap<String, String>) -> Context {
    propagator.extract(carrier)
}

/// xray's propagator injecting into a carrier (cleared first, capacity kept).
#[inline(never)]
pub fn xray_inject(
    propagator: &XrayPropagator,
    cx: &Context,
    carrier: &mut HashMap<String, String>,
) {
    carrier.clear();
    propagator.inject_context(cx, carrier);
}

/// opentelemetry-aws' propagator extracting from a carrier.
#[inline(never)]
pub fn aws_extract(
    propagator: &opentelemetry_aws::trace::XrayPropagator,
    carrier: &HashMap<String, String>,
) -> Context {
    propagator.extract(carrier)
}

/// opentelemetry-aws' propagator injecting into a carrier (cleared first).
#[inline(never)]
pub fn aws_inject(
    propagator: &opentelemetry_aws::trace::XrayPropagator,
    cx: &Context,
    carrier: &mut HashMap<String, String>,
) {
    carrier.clear();
    propagator.inject_context(cx, carrier);
}

// ---------------------------------------------------------------------------
// Exporters

/// Spans per prepared batch: [`TRACES_PER_BATCH`] traces of one server root
/// and [`CHILDREN_PER_TRACE`] children each.
pub const BATCH_SPANS: usize = TRACES_PER_BATCH * (1 + CHILDREN_PER_TRACE);
/// Traces per prepared batch.
pub const TRACES_PER_BATCH: usize = 10;
/// Children of each trace's root in a prepared batch.
pub const CHILDREN_PER_TRACE: usize = 9;

/// A batch of [`BATCH_SPANS`] finished spans as xray's macros record them:
/// complete traces (children first, root last, as they end), a server root
/// with two attributes, children with an argument, an annotation and the
/// annotation list. `seed` varies the ids.
pub fn batch(seed: u64) -> Vec<SpanData> {
    let scope = InstrumentationScope::builder("xray")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build();
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000);
    let mut spans = Vec::with_capacity(BATCH_SPANS);
    for t in 0..TRACES_PER_BATCH as u64 {
        let n = seed.wrapping_mul(TRACES_PER_BATCH as u64).wrapping_add(t);
        let trace_id = TraceId::from((0x6853_2f80_u128 << 96) | u128::from(n + 1));
        let root_id = SpanId::from((n << 8) | 0x80);
        let context = |span_id| {
            SpanContext::new(
                trace_id,
                span_id,
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            )
        };
        let base = start + Duration::from_millis(n);
        for c in 0..CHILDREN_PER_TRACE as u64 {
            let child_start = base + Duration::from_micros(10 + 50 * c);
            spans.push(SpanData {
                span_context: context(SpanId::from((n << 8) | (c + 1))),
                parent_span_id: root_id,
                parent_span_is_remote: false,
                span_kind: SpanKind::Internal,
                name: "load_order".into(),
                start_time: child_start,
                end_time: child_start + Duration::from_micros(40),
                attributes: vec![
                    KeyValue::new("order.id", (c * 7) as i64),
                    KeyValue::new("tier", "gold"),
                    KeyValue::new(
                        xray_runtime::ANNOTATIONS_KEY,
                        Value::Array(Array::String(vec!["tier".into()])),
                    ),
                ],
                dropped_attributes_count: 0,
                events: SpanEvents::default(),
                links: SpanLinks::default(),
                status: Status::Unset,
                instrumentation_scope: scope.clone(),
            });
        }
        spans.push(SpanData {
            span_context: context(root_id),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Server,
            name: "GET /orders".into(),
            start_time: base,
            end_time: base + Duration::from_micros(500),
            attributes: vec![
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("http.route", "/orders"),
            ],
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: scope.clone(),
        });
    }
    spans
}

fn resource() -> Resource {
    Resource::builder().with_service_name("xray-bench").build()
}

/// xray's console exporter writing to `io::sink()`.
pub fn console_exporter() -> ConsoleExporter {
    let mut exporter = ConsoleExporter::new(std::io::sink());
    exporter.set_resource(&resource());
    exporter
}

/// xray's JSON exporter writing to `io::sink()`.
pub fn json_exporter() -> JsonExporter {
    let mut exporter = JsonExporter::new(std::io::sink());
    exporter.set_resource(&resource());
    exporter
}

/// Exports one batch and waits for the result.
#[inline(never)]
pub fn export<E: SpanExporter>(exporter: &E, batch: Vec<SpanData>) {
    if let Err(err) = block_on(exporter.export(batch)) {
        panic!("export to io::sink() failed: {err}");
    }
}

/// Polls `future` to completion on this thread (the exporters measured
/// here complete without waiting).
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = TaskContext::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::yield_now();
    }
}
