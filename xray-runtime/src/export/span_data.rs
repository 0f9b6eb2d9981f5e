//! A finished span as OpenTelemetry's [`SpanData`], what `SpanExporter`s take.

use std::borrow::Cow;

use opentelemetry::trace::{Event, SpanContext, SpanId, Status, TraceFlags, TraceId};
use opentelemetry::{Array, InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

use crate::clock::Converter;
use crate::record::{ANNOTATIONS_KEY, Finished};

/// Converts `span` (times in clock ticks) to a `SpanData` with wall-clock
/// times; its annotations become the `aws.xray.annotations` list.
pub(crate) fn span_data(
    span: Finished,
    converter: &Converter,
    scope: &InstrumentationScope,
) -> SpanData {
    let mut attributes = Vec::new();
    let mut events = SpanEvents::default();
    let mut links = SpanLinks::default();
    let mut status = Status::Unset;
    let mut name = Cow::Borrowed(span.spec.name);
    let mut kind = span.spec.kind.clone();
    if let Some(extra) = span.extra {
        let extra = *extra;
        if let Some(dynamic) = extra.name {
            name = dynamic;
        }
        if let Some(dynamic) = extra.kind {
            kind = dynamic;
        }
        attributes = extra.attributes;
        if !extra.annotations.is_empty() {
            attributes.push(KeyValue::new(
                ANNOTATIONS_KEY,
                Value::Array(Array::String(extra.annotations)),
            ));
        }
        events.events = extra
            .events
            .into_iter()
            .map(|e| Event::new(e.name, converter.wall(e.at), e.attributes, 0))
            .collect();
        links.links = extra.links;
        status = extra.status;
    }
    SpanData {
        span_context: SpanContext::new(
            TraceId::from(span.trace_id),
            SpanId::from(span.span_id),
            TraceFlags::SAMPLED,
            false,
            span.trace_state.unwrap_or_default(),
        ),
        parent_span_id: SpanId::from(span.parent_id),
        parent_span_is_remote: span.parent_remote,
        span_kind: kind,
        name,
        start_time: converter.wall(span.start),
        end_time: converter.wall(span.end),
        attributes,
        dropped_attributes_count: 0,
        events,
        links,
        status,
        instrumentation_scope: scope.clone(),
    }
}
