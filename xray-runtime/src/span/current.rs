//! The current span: its ids for propagation and log correlation, its
//! OpenTelemetry context, and helpers that record on it.

use std::borrow::Cow;

use opentelemetry::trace::{SpanContext, Status, TraceContextExt};
use opentelemetry::{Context, Key, KeyValue, StringValue, Value};

use crate::clock;
use crate::propagation::{IncomingXray, Sampling, XrayHeader, xray_trace_id};
use crate::record::{ANNOTATIONS_KEY, RawEvent};
use crate::span::error::ErrorInfo;
use crate::span::stack::{self, Frame};
use crate::value::{AnnotationValue, AttributeValue};

/// The current span's context: the innermost traced span on this thread, or
/// a span made current through the OpenTelemetry API inside it.
pub(crate) fn current_span_context() -> Option<SpanContext> {
    let otel = stack::otel_current();
    let otel_id = stack::otel_span_id(&otel);
    let ours = stack::read_local(|local| {
        let top = local.stack.last()?;
        if stack::otel_nested_in(top, otel_id) {
            return None;
        }
        Some(top.span_context())
    });
    ours.or(otel)
}

/// The caller's context a root span on the stack continues, for the lineage
/// and baggage it carries.
pub(crate) fn current_remote() -> Option<Context> {
    stack::read_local(|local| local.stack.iter().rev().find_map(|f| f.remote().cloned()))
}

/// `cx` with the current traced span as its span, when `cx` has none: what
/// the global tracer and propagator use.
pub(crate) fn with_current_span(cx: &Context) -> Option<Context> {
    if cx.has_active_span() {
        return None;
    }
    let sc = current_span_context()?;
    let base = current_remote().unwrap_or_else(|| cx.clone());
    Some(base.with_remote_span_context(sc))
}

/// The current context as an OpenTelemetry [`Context`]: the traced span (if
/// any) as its active span, with the baggage and X-Ray lineage of the trace.
/// Pass it to OpenTelemetry APIs that take an explicit context.
pub fn current_context() -> Context {
    let cx = Context::current();
    with_current_span(&cx).unwrap_or(cx)
}

/// The current trace id in X-Ray form (`1-5759e988-bd862e3fe1be46a994272793`),
/// for log correlation; `None` outside a span.
///
/// ```
/// assert_eq!(xray_runtime::current_trace_id(), None);
/// ```
pub fn current_trace_id() -> Option<String> {
    current_span_context().map(|sc| xray_trace_id(sc.trace_id()))
}

/// The current span id (16 hex digits); `None` outside a span.
pub fn current_span_id() -> Option<String> {
    current_span_context().map(|sc| sc.span_id().to_string())
}

/// The `X-Amzn-Trace-Id` header value that continues the current trace in
/// another service (`Root=...;Parent=...;Sampled=1`); `None` outside a span.
///
/// ```
/// assert_eq!(xray_runtime::current_trace_header(), None);
/// ```
pub fn current_trace_header() -> Option<String> {
    let sc = current_span_context()?;
    let lineage = current_remote()
        .and_then(|cx| {
            cx.get::<IncomingXray>()
                .and_then(|i| i.header.lineage.clone())
        })
        .or_else(|| {
            Context::map_current(|cx| {
                cx.get::<IncomingXray>()
                    .and_then(|i| i.header.lineage.clone())
            })
        });
    let header = XrayHeader {
        trace_id: sc.trace_id(),
        parent_id: Some(sc.span_id()),
        sampling: if sc.is_sampled() {
            Sampling::Sampled
        } else {
            Sampling::NotSampled
        },
        lineage,
    };
    Some(header.to_header_value())
}

/// Applies `f` to the current traced span when it is sampled, else to the
/// OpenTelemetry API's current span when that one is recording.
fn on_current(
    frame_f: impl FnOnce(&mut Frame),
    otel_f: impl FnOnce(&opentelemetry::trace::SpanRef<'_>),
) {
    let mut frame_f = Some(frame_f);
    let handled = stack::with_top(|frame| {
        if frame.sampled
            && let Some(f) = frame_f.take()
        {
            f(frame);
        }
    });
    if handled.is_none() {
        Context::map_current(|cx| {
            let span = cx.span();
            if span.is_recording() {
                otel_f(&span);
            }
        });
    }
}

/// Sets an attribute on the current span (nothing outside a span or when the
/// span is not sampled).
///
/// ```
/// xray_runtime::set_attribute("order.id", 42u64);
/// ```
pub fn set_attribute(key: impl Into<Key>, value: impl AttributeValue) {
    let kv = KeyValue::new(key, value.to_value());
    let otel_kv = kv.clone();
    on_current(
        |frame| frame.extra().attributes.push(kv),
        |span| span.set_attribute(otel_kv),
    );
}

/// Why [`annotate`] refused a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidAnnotationKey(pub String);

impl std::fmt::Display for InvalidAnnotationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invalid X-Ray annotation key {:?}: use 1 to 500 ASCII letters, digits or underscores",
            self.0
        )
    }
}

impl std::error::Error for InvalidAnnotationKey {}

/// Whether `key` is a valid X-Ray annotation key.
pub fn is_valid_annotation_key(key: &str) -> bool {
    (1..=500).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Adds an X-Ray annotation (indexed, searchable) to the current span.
///
/// Values are strings, booleans, integers or floats; anything else does not
/// compile. A key that X-Ray would reject is refused here instead.
///
/// ```
/// xray_runtime::annotate("tier", "gold").unwrap();
/// assert!(xray_runtime::annotate("not valid", 1).is_err());
/// ```
pub fn annotate(key: &str, value: impl AnnotationValue) -> Result<(), InvalidAnnotationKey> {
    if !is_valid_annotation_key(key) {
        return Err(InvalidAnnotationKey(key.to_string()));
    }
    let value = value.to_annotation();
    let key = key.to_string();
    let (otel_key, otel_value) = (key.clone(), value.clone());
    on_current(
        |frame| {
            let extra = frame.extra();
            extra.attributes.push(KeyValue::new(key.clone(), value));
            let key = StringValue::from(key);
            if !extra.annotations.contains(&key) {
                extra.annotations.push(key);
            }
        },
        |span| {
            span.set_attribute(KeyValue::new(otel_key.clone(), otel_value));
            // Several lists on one span are merged into one at export.
            let list = Value::Array(opentelemetry::Array::String(vec![otel_key.into()]));
            span.set_attribute(KeyValue::new(ANNOTATIONS_KEY, list));
        },
    );
    Ok(())
}

/// Records `error` on the current span: status Error with its message and an
/// `exception` event (type, message, causes).
///
/// ```
/// let err = std::io::Error::other("disk full");
/// xray_runtime::record_error(&err);
/// ```
pub fn record_error<E: std::error::Error + ?Sized>(error: &E) {
    let info = ErrorInfo::of(error);
    let message = info.message.clone();
    let type_name = info.type_name;
    on_current(
        |frame| frame.record_error(info),
        |span| {
            span.set_status(Status::error(message.clone()));
            span.add_event(
                "exception",
                vec![
                    KeyValue::new("exception.type", type_name),
                    KeyValue::new("exception.message", message),
                ],
            );
        },
    );
}

/// Adds an event to the current span.
///
/// ```
/// xray_runtime::add_event("cache.miss", [("cache.key", "user:7")]);
/// ```
pub fn add_event<K, V>(
    name: impl Into<Cow<'static, str>>,
    attributes: impl IntoIterator<Item = (K, V)>,
) where
    K: Into<Key>,
    V: AttributeValue,
{
    let name = name.into();
    let attributes: Vec<KeyValue> = attributes
        .into_iter()
        .map(|(k, v)| KeyValue::new(k, v.to_value()))
        .collect();
    let (otel_name, otel_attributes) = (name.clone(), attributes.clone());
    on_current(
        |frame| {
            frame.extra().events.push(RawEvent {
                name,
                at: clock::ticks(),
                attributes,
            })
        },
        |span| span.add_event(otel_name, otel_attributes),
    );
}

/// Marks the current span failed, without an `exception` event (an outcome
/// that is a failure without an error value, such as an HTTP 5xx).
pub fn set_status_error(description: impl Into<Cow<'static, str>>) {
    let description = description.into();
    let otel_description = description.clone();
    on_current(
        |frame| frame.extra().status = Status::error(description),
        |span| span.set_status(Status::error(otel_description)),
    );
}
