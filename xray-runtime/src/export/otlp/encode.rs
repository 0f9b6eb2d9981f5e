//! Batches as OTLP protobuf: the bytes of an `ExportTraceServiceRequest`,
//! written straight from the span records into one buffer, without
//! building the `opentelemetry-proto` structs first (spans made through
//! the OpenTelemetry API still go through them: `SpanData` is theirs).
//!
//! The request nests every span inside a `ResourceSpans` and a
//! `ScopeSpans`, whose lengths come first on the wire and are known only
//! once the spans are written. So the spans are written after a gap, and
//! the headers that go before them are written last, into the end of the
//! gap: the request is the buffer from where its headers start, and the
//! room left before it is free for a transport's own prefix.

use opentelemetry::trace::{Link, SpanKind, Status};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_proto::tonic::common::v1::InstrumentationScope as ProtoScope;
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::tonic::trace::v1::{ScopeSpans, Span as ProtoSpan, SpanFlags};
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanData;

use super::protobuf::{self as pb, FIXED32, FIXED64, LEN, MAX_VARINT_LEN, VARINT};
use crate::clock::Converter;
use crate::export::boxed::merge_annotation_lists;
use crate::export::lane::Batch;
use crate::record::{ANNOTATIONS_KEY, Extra, Finished, RawEvent};

/// Field numbers, from `opentelemetry/proto/{collector/trace,trace,common}/v1/*.proto`.
mod field {
    // ExportTraceServiceRequest
    pub const RESOURCE_SPANS: u32 = 1;
    // ResourceSpans
    pub const RESOURCE: u32 = 1;
    pub const SCOPE_SPANS: u32 = 2;
    pub const RESOURCE_SCHEMA_URL: u32 = 3;
    // ScopeSpans
    pub const SCOPE: u32 = 1;
    pub const SPANS: u32 = 2;
    // Span
    pub const TRACE_ID: u32 = 1;
    pub const SPAN_ID: u32 = 2;
    pub const TRACE_STATE: u32 = 3;
    pub const PARENT_SPAN_ID: u32 = 4;
    pub const NAME: u32 = 5;
    pub const KIND: u32 = 6;
    pub const START_TIME: u32 = 7;
    pub const END_TIME: u32 = 8;
    pub const ATTRIBUTES: u32 = 9;
    pub const EVENTS: u32 = 11;
    pub const LINKS: u32 = 13;
    pub const STATUS: u32 = 15;
    pub const FLAGS: u32 = 16;
    // Span.Event
    pub const EVENT_TIME: u32 = 1;
    pub const EVENT_NAME: u32 = 2;
    pub const EVENT_ATTRIBUTES: u32 = 3;
    // Status
    // Span.Link
    pub const LINK_TRACE_ID: u32 = 1;
    pub const LINK_SPAN_ID: u32 = 2;
    pub const LINK_TRACE_STATE: u32 = 3;
    pub const LINK_ATTRIBUTES: u32 = 4;
    pub const LINK_DROPPED_ATTRIBUTES: u32 = 5;
    pub const LINK_FLAGS: u32 = 6;
    // Status
    pub const STATUS_MESSAGE: u32 = 2;
    pub const STATUS_CODE: u32 = 3;
    // KeyValue
    pub const KEY: u32 = 1;
    pub const VALUE: u32 = 2;
    // AnyValue
    pub const STRING_VALUE: u32 = 1;
    pub const BOOL_VALUE: u32 = 2;
    pub const INT_VALUE: u32 = 3;
    pub const DOUBLE_VALUE: u32 = 4;
    pub const ARRAY_VALUE: u32 = 5;
    // ArrayValue
    pub const ARRAY_VALUES: u32 = 1;
}

/// `Span.SpanKind` and `Status.StatusCode`, as the proto numbers them.
fn kind_number(kind: &SpanKind) -> u8 {
    match kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}
const STATUS_OK: u64 = 1;
const STATUS_ERROR: u64 = 2;

/// Encodes requests for one resource and instrumentation scope.
#[derive(Clone, Debug)]
pub(crate) struct Encoder {
    /// `ResourceSpans.resource`, key and length included: the same for
    /// every request, so encoded once.
    resource: Vec<u8>,
    /// `ResourceSpans.schema_url`, key and length included (empty if none).
    schema_url: Vec<u8>,
    /// `ScopeSpans.scope` of our spans, key and length included.
    scope: Vec<u8>,
    /// The size of the last request: the next buffer is allocated at once.
    size_hint: usize,
}

/// An encoded request: the message is `buf[start..]`; what is before it
/// is free room.
#[derive(Debug)]
pub(crate) struct Encoded {
    pub buf: Vec<u8>,
    pub start: usize,
}

#[cfg(test)]
impl Encoded {
    /// The message.
    pub(crate) fn message(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

impl Encoder {
    pub(crate) fn new(resource: &Resource, scope: &InstrumentationScope) -> Self {
        let attributes = ResourceAttributesWithSchema::from(resource);
        let proto_resource = ProtoResource {
            attributes: attributes.attributes.0,
            dropped_attributes_count: 0,
            entity_refs: Vec::new(),
        };
        let mut resource = Vec::new();
        prost::encoding::message::encode(field::RESOURCE, &proto_resource, &mut resource);
        let mut schema_url = Vec::new();
        if let Some(url) = attributes.schema_url.filter(|url| !url.is_empty()) {
            pb::bytes(&mut schema_url, field::RESOURCE_SCHEMA_URL, url.as_bytes());
        }
        let mut encoded_scope = Vec::new();
        prost::encoding::message::encode(
            field::SCOPE,
            &ProtoScope::from((scope, None)),
            &mut encoded_scope,
        );
        Self {
            resource,
            schema_url,
            scope: encoded_scope,
            size_hint: 0,
        }
    }

    /// The request carrying every span of `batch` (ours under our scope,
    /// those made through the OpenTelemetry API under theirs), in a new
    /// buffer with at least `room` free bytes before it.
    pub(crate) fn encode(&mut self, batch: Batch, room: usize) -> Encoded {
        let mut buf = Vec::with_capacity(self.size_hint + self.size_hint / 8 + room);
        let start = self.encode_into(batch, &mut buf, room);
        self.size_hint = buf.len() - room;
        Encoded { buf, start }
    }

    /// Writes the request into `buf` (cleared first, its allocation kept);
    /// returns where it starts, at least `room` bytes in.
    pub(crate) fn encode_into(&self, batch: Batch, buf: &mut Vec<u8>, room: usize) -> usize {
        buf.clear();
        // The gap for what goes before the spans: the resource, our scope,
        // and the keys and lengths of the two messages around them.
        let gap = room + self.resource.len() + self.scope.len() + 2 * (1 + MAX_VARINT_LEN);
        buf.resize(gap, 0);
        let ours = !batch.spans.is_empty();
        for span in &batch.spans {
            encode_span(buf, span, &batch.converter);
        }
        let scope_spans_len = (buf.len() - gap) + self.scope.len();
        group_by_scope(batch.sdk_spans, buf);
        buf.extend_from_slice(&self.schema_url);

        // Now the headers, backwards from the first span.
        let mut at = gap;
        if ours {
            at = prepend(buf, at, &self.scope);
            at = prepend_varint(buf, at, scope_spans_len as u64);
            at = prepend_key(buf, at, field::SCOPE_SPANS);
        }
        at = prepend(buf, at, &self.resource);
        let resource_spans_len = buf.len() - at;
        at = prepend_varint(buf, at, resource_spans_len as u64);
        prepend_key(buf, at, field::RESOURCE_SPANS)
    }
}

/// Writes `bytes` to end at `at`; returns where they start.
fn prepend(buf: &mut [u8], at: usize, bytes: &[u8]) -> usize {
    let start = at - bytes.len();
    buf[start..at].copy_from_slice(bytes);
    start
}

fn prepend_varint(buf: &mut [u8], at: usize, value: u64) -> usize {
    let start = at - pb::varint_len(value);
    pb::varint_into(&mut buf[start..at], value);
    start
}

/// A length-delimited field's key (one byte for the fields it is used for).
fn prepend_key(buf: &mut [u8], at: usize, field: u32) -> usize {
    buf[at - 1] = pb::key_byte(field, LEN);
    at - 1
}

/// Spans made through the OpenTelemetry API, one `ScopeSpans` per scope.
fn group_by_scope(spans: Vec<SpanData>, buf: &mut Vec<u8>) {
    for group in &sdk_scope_spans(spans) {
        prost::encoding::message::encode(field::SCOPE_SPANS, group, buf);
    }
}

/// Spans made through the OpenTelemetry API as `opentelemetry-proto`
/// converts them, grouped by scope in the order the scopes first appear.
fn sdk_scope_spans(spans: Vec<SpanData>) -> Vec<ScopeSpans> {
    let mut scopes: Vec<InstrumentationScope> = Vec::new();
    let mut groups: Vec<ScopeSpans> = Vec::new();
    for mut span in spans {
        merge_annotation_lists(&mut span);
        let index = match scopes.iter().position(|s| *s == span.instrumentation_scope) {
            Some(index) => index,
            None => {
                scopes.push(span.instrumentation_scope.clone());
                groups.push(ScopeSpans {
                    scope: Some(ProtoScope::from((&span.instrumentation_scope, None))),
                    spans: Vec::new(),
                    schema_url: span
                        .instrumentation_scope
                        .schema_url()
                        .unwrap_or_default()
                        .to_string(),
                });
                scopes.len() - 1
            }
        };
        groups[index].spans.push(ProtoSpan::from(span));
    }
    groups
}

/// The W3C trace flags (sampled), and that the parent's remoteness is known.
fn flags(parent_remote: bool) -> u32 {
    let mut flags = 0x01 | SpanFlags::ContextHasIsRemoteMask as u32;
    if parent_remote {
        flags |= SpanFlags::ContextIsRemoteMask as u32;
    }
    flags
}

/// One span record, as the `spans` field of a `ScopeSpans`. A span with
/// only what every span has (most of them) is put together on the stack
/// and added to the buffer in one piece.
fn encode_span(buf: &mut Vec<u8>, span: &Finished, converter: &Converter) {
    let extra = span.extra.as_deref();
    let name = extra
        .and_then(|extra| extra.name.as_deref())
        .unwrap_or(span.spec.name);
    let kind = extra
        .and_then(|extra| extra.kind.as_ref())
        .unwrap_or(&span.spec.kind);
    let state = span
        .trace_state
        .as_ref()
        .map(|state| state.header())
        .filter(|header| !header.is_empty());

    let mut piece = Stack::<SHORT_SPAN>::new();
    // The key and (one-byte) length of the span, when it is short.
    piece.put(&[pb::key_byte(field::SPANS, LEN), 0]);
    piece.put(&[pb::key_byte(field::TRACE_ID, LEN), 16]);
    piece.put(&span.trace_id.to_be_bytes());
    piece.put(&[pb::key_byte(field::SPAN_ID, LEN), 8]);
    piece.put(&span.span_id.to_be_bytes());
    let short = extra.is_none() && state.is_none() && name.len() <= MAX_SHORT_NAME;
    if !short {
        return encode_long_span(buf, span, piece, name, kind, state.as_deref(), converter);
    }
    if span.parent_id != 0 {
        piece.put(&[pb::key_byte(field::PARENT_SPAN_ID, LEN), 8]);
        piece.put(&span.parent_id.to_be_bytes());
    }
    if !name.is_empty() {
        piece.put(&[pb::key_byte(field::NAME, LEN), name.len() as u8]);
        piece.put(name.as_bytes());
    }
    put_kind_and_times(&mut piece, kind, span, converter);
    piece.put(&FLAGS_KEY);
    piece.put(&flags(span.parent_remote).to_le_bytes());
    piece.bytes[1] = (piece.len - 2) as u8;
    buf.extend_from_slice(piece.as_slice());
}

/// A name that fits a short span, whose length is one byte.
const MAX_SHORT_NAME: usize = 56;
/// The most a short span takes, with its key and length: ids, parent,
/// name, kind, times, flags.
const SHORT_SPAN: usize = 2 + 18 + 10 + 10 + 2 + MAX_SHORT_NAME + 2 + 9 + 9 + 6;
const _: () = assert!(SHORT_SPAN - 2 < 0x80);

/// A span with attributes, events, a status, a trace state or a long name:
/// its ids are in `piece`, after its key and a length to be filled in.
fn encode_long_span(
    buf: &mut Vec<u8>,
    span: &Finished,
    mut piece: Stack<SHORT_SPAN>,
    name: &str,
    kind: &SpanKind,
    state: Option<&str>,
    converter: &Converter,
) {
    buf.extend_from_slice(&piece.as_slice()[..1]);
    buf.push(0);
    let body = buf.len();
    buf.extend_from_slice(&piece.as_slice()[2..]);
    piece.clear();
    if let Some(state) = state {
        pb::bytes(buf, field::TRACE_STATE, state.as_bytes());
    }
    if span.parent_id != 0 {
        pb::bytes(buf, field::PARENT_SPAN_ID, &span.parent_id.to_be_bytes());
    }
    if !name.is_empty() {
        pb::bytes(buf, field::NAME, name.as_bytes());
    }
    put_kind_and_times(&mut piece, kind, span, converter);
    buf.extend_from_slice(piece.as_slice());
    if let Some(extra) = span.extra.as_deref() {
        encode_extra(buf, extra, converter);
    }
    pb::fixed32(buf, field::FLAGS, flags(span.parent_remote));
    pb::end(buf, body);
}

/// `kind`, `start_time_unix_nano` and `end_time_unix_nano`.
#[inline]
fn put_kind_and_times<const N: usize>(
    piece: &mut Stack<N>,
    kind: &SpanKind,
    span: &Finished,
    converter: &Converter,
) {
    piece.put(&[pb::key_byte(field::KIND, VARINT), kind_number(kind)]);
    for (number, ticks) in [(field::START_TIME, span.start), (field::END_TIME, span.end)] {
        let nanos = converter.unix_nanos(ticks);
        if nanos != 0 {
            piece.put(&[pb::key_byte(number, FIXED64)]);
            piece.put(&nanos.to_le_bytes());
        }
    }
}

/// `flags` (field 16, written last as prost writes fields in the order of
/// their numbers): its key takes two bytes.
const FLAGS_KEY: [u8; 2] = {
    let key = field::FLAGS << 3 | FIXED32;
    [(key & 0x7f) as u8 | 0x80, (key >> 7) as u8]
};

/// A few bytes put together before they go to the buffer.
struct Stack<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> Stack<N> {
    fn new() -> Self {
        Self {
            bytes: [0; N],
            len: 0,
        }
    }

    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.bytes[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    fn clear(&mut self) {
        self.len = 0;
    }
}

/// Attributes (with the annotations' list), events, links and status.
fn encode_extra(buf: &mut Vec<u8>, extra: &Extra, converter: &Converter) {
    for attribute in &extra.attributes {
        encode_key_value(buf, field::ATTRIBUTES, attribute);
    }
    if !extra.annotations.is_empty() {
        let body = pb::begin(buf, field::ATTRIBUTES);
        pb::bytes(buf, field::KEY, ANNOTATIONS_KEY.as_bytes());
        let value = pb::begin(buf, field::VALUE);
        encode_strings(buf, &extra.annotations);
        pb::end(buf, value);
        pb::end(buf, body);
    }
    for event in &extra.events {
        encode_event(buf, event, converter);
    }
    for link in &extra.links {
        encode_link(buf, link);
    }
    match &extra.status {
        Status::Unset => {}
        Status::Ok => {
            let body = pb::begin(buf, field::STATUS);
            pb::uint64(buf, field::STATUS_CODE, STATUS_OK);
            pb::end(buf, body);
        }
        Status::Error { description } => {
            let body = pb::begin(buf, field::STATUS);
            if !description.is_empty() {
                pb::bytes(buf, field::STATUS_MESSAGE, description.as_bytes());
            }
            pb::uint64(buf, field::STATUS_CODE, STATUS_ERROR);
            pb::end(buf, body);
        }
    }
}

fn encode_event(buf: &mut Vec<u8>, event: &RawEvent, converter: &Converter) {
    let body = pb::begin(buf, field::EVENTS);
    let time = converter.unix_nanos(event.at);
    if time != 0 {
        pb::fixed64(buf, field::EVENT_TIME, time);
    }
    if !event.name.is_empty() {
        pb::bytes(buf, field::EVENT_NAME, event.name.as_bytes());
    }
    for attribute in &event.attributes {
        encode_key_value(buf, field::EVENT_ATTRIBUTES, attribute);
    }
    pb::end(buf, body);
}

fn encode_link(buf: &mut Vec<u8>, link: &Link) {
    let context = &link.span_context;
    let body = pb::begin(buf, field::LINKS);
    pb::bytes(buf, field::LINK_TRACE_ID, &context.trace_id().to_bytes());
    pb::bytes(buf, field::LINK_SPAN_ID, &context.span_id().to_bytes());
    let state = context.trace_state().header();
    if !state.is_empty() {
        pb::bytes(buf, field::LINK_TRACE_STATE, state.as_bytes());
    }
    for attribute in &link.attributes {
        encode_key_value(buf, field::LINK_ATTRIBUTES, attribute);
    }
    if link.dropped_attributes_count != 0 {
        pb::uint64(
            buf,
            field::LINK_DROPPED_ATTRIBUTES,
            link.dropped_attributes_count.into(),
        );
    }
    let mut flags =
        u32::from(context.trace_flags().to_u8()) | SpanFlags::ContextHasIsRemoteMask as u32;
    if context.is_remote() {
        flags |= SpanFlags::ContextIsRemoteMask as u32;
    }
    pb::fixed32(buf, field::LINK_FLAGS, flags);
    pb::end(buf, body);
}

/// A `KeyValue` message in field `field_number`.
fn encode_key_value(buf: &mut Vec<u8>, field_number: u32, attribute: &KeyValue) {
    let body = pb::begin(buf, field_number);
    let key = attribute.key.as_str();
    if !key.is_empty() {
        pb::bytes(buf, field::KEY, key.as_bytes());
    }
    let any = pb::begin(buf, field::VALUE);
    encode_any_value(buf, &attribute.value);
    pb::end(buf, any);
    pb::end(buf, body);
}

/// The body of an `AnyValue`: its one field, written even when it holds
/// the default (a `oneof` is present once set).
fn encode_any_value(buf: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Bool(b) => pb::uint64(buf, field::BOOL_VALUE, u64::from(*b)),
        Value::I64(i) => pb::uint64(buf, field::INT_VALUE, *i as u64),
        Value::F64(f) => pb::fixed64(buf, field::DOUBLE_VALUE, f.to_bits()),
        Value::String(s) => pb::bytes(buf, field::STRING_VALUE, s.as_str().as_bytes()),
        Value::Array(array) => encode_array(buf, array),
        // A kind of value newer than this encoder: as its text.
        other => pb::bytes(buf, field::STRING_VALUE, other.to_string().as_bytes()),
    }
}

/// The `array_value` field of an `AnyValue`.
fn encode_array(buf: &mut Vec<u8>, array: &Array) {
    match array {
        Array::Bool(values) => encode_values(buf, values, |buf, b| {
            pb::uint64(buf, field::BOOL_VALUE, u64::from(*b))
        }),
        Array::I64(values) => encode_values(buf, values, |buf, i| {
            pb::uint64(buf, field::INT_VALUE, *i as u64)
        }),
        Array::F64(values) => encode_values(buf, values, |buf, f| {
            pb::fixed64(buf, field::DOUBLE_VALUE, f.to_bits())
        }),
        Array::String(values) => encode_strings(buf, values),
        // A kind of array newer than this encoder: as its text.
        other => pb::bytes(buf, field::STRING_VALUE, other.to_string().as_bytes()),
    }
}

fn encode_strings(buf: &mut Vec<u8>, values: &[StringValue]) {
    encode_values(buf, values, |buf, s| {
        pb::bytes(buf, field::STRING_VALUE, s.as_str().as_bytes())
    });
}

/// An `ArrayValue` in field `array_value`: each element an `AnyValue`.
fn encode_values<T>(buf: &mut Vec<u8>, values: &[T], one: impl Fn(&mut Vec<u8>, &T)) {
    let array = pb::begin(buf, field::ARRAY_VALUE);
    for value in values {
        let any = pb::begin(buf, field::ARRAY_VALUES);
        one(buf, value);
        pb::end(buf, any);
    }
    pb::end(buf, array);
}

#[cfg(test)]
mod tests {
    //! The bytes written here against what `opentelemetry-proto`'s structs
    //! encode to, for spans of every shape.

    use std::borrow::Cow;
    use std::time::{Duration, UNIX_EPOCH};

    use opentelemetry::trace::{Event, Link, SpanContext, SpanId, TraceFlags, TraceId, TraceState};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::trace::v1::{
        ResourceSpans, Status as ProtoStatus, span, status,
    };
    use opentelemetry_proto::transform::common::tonic::Attributes;
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use prost::Message;

    use super::*;
    use crate::record::SpanSpec;

    /// The encoder this one replaced: builds the `opentelemetry-proto`
    /// structs, then lets prost encode them.
    fn reference(resource: &Resource, scope: &InstrumentationScope, batch: Batch) -> Vec<u8> {
        let attributes = ResourceAttributesWithSchema::from(resource);
        let mut scope_spans = Vec::new();
        if !batch.spans.is_empty() {
            scope_spans.push(ScopeSpans {
                scope: Some(ProtoScope::from((scope, None))),
                spans: batch
                    .spans
                    .into_iter()
                    .map(|span| reference_span(span, &batch.converter))
                    .collect(),
                schema_url: String::new(),
            });
        }
        // Spans of the OpenTelemetry API take the same way as before.
        scope_spans.extend(sdk_scope_spans(batch.sdk_spans));
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(ProtoResource {
                    attributes: attributes.attributes.0,
                    dropped_attributes_count: 0,
                    entity_refs: Vec::new(),
                }),
                scope_spans,
                schema_url: attributes.schema_url.unwrap_or_default(),
            }],
        }
        .encode_to_vec()
    }

    fn reference_span(span: Finished, converter: &Converter) -> ProtoSpan {
        let proto_kind = |kind: &SpanKind| match kind {
            SpanKind::Internal => span::SpanKind::Internal,
            SpanKind::Server => span::SpanKind::Server,
            SpanKind::Client => span::SpanKind::Client,
            SpanKind::Producer => span::SpanKind::Producer,
            SpanKind::Consumer => span::SpanKind::Consumer,
        } as i32;
        let mut out = ProtoSpan {
            trace_id: span.trace_id.to_be_bytes().to_vec(),
            span_id: span.span_id.to_be_bytes().to_vec(),
            trace_state: span.trace_state.map(|s| s.header()).unwrap_or_default(),
            parent_span_id: if span.parent_id == 0 {
                Vec::new()
            } else {
                span.parent_id.to_be_bytes().to_vec()
            },
            flags: flags(span.parent_remote),
            name: span.spec.name.to_string(),
            kind: proto_kind(&span.spec.kind),
            start_time_unix_nano: converter.unix_nanos(span.start),
            end_time_unix_nano: converter.unix_nanos(span.end),
            ..ProtoSpan::default()
        };
        if let Some(extra) = span.extra {
            let extra = *extra;
            if let Some(name) = extra.name {
                out.name = name.into_owned();
            }
            if let Some(dynamic) = &extra.kind {
                out.kind = proto_kind(dynamic);
            }
            let mut attributes = extra.attributes;
            if !extra.annotations.is_empty() {
                attributes.push(KeyValue::new(
                    ANNOTATIONS_KEY,
                    Value::Array(Array::String(extra.annotations)),
                ));
            }
            out.attributes = Attributes::from(attributes).0;
            out.events = extra
                .events
                .into_iter()
                .map(|event| span::Event {
                    time_unix_nano: converter.unix_nanos(event.at),
                    name: event.name.into_owned(),
                    attributes: Attributes::from(event.attributes).0,
                    dropped_attributes_count: 0,
                })
                .collect();
            out.links = extra.links.into_iter().map(span::Link::from).collect();
            out.status = match extra.status {
                Status::Unset => None,
                Status::Ok => Some(ProtoStatus {
                    code: status::StatusCode::Ok as i32,
                    message: String::new(),
                }),
                Status::Error { description } => Some(ProtoStatus {
                    code: status::StatusCode::Error as i32,
                    message: description.into_owned(),
                }),
            };
        }
        out
    }

    const fn spec(name: &'static str, kind: SpanKind) -> SpanSpec {
        SpanSpec {
            name,
            kind,
            flush: false,
        }
    }
    static PLAIN: SpanSpec = spec("load_order", SpanKind::Internal);
    static SERVER: SpanSpec = spec("GET /orders/{id}", SpanKind::Server);
    static UNNAMED: SpanSpec = spec("", SpanKind::Consumer);
    /// The longest name a span is written in one piece with, and one more.
    static LONGEST_SHORT: SpanSpec = spec(
        "12345678901234567890123456789012345678901234567890123456",
        SpanKind::Internal,
    );
    static LONG: SpanSpec = spec(
        "123456789012345678901234567890123456789012345678901234567",
        SpanKind::Internal,
    );

    fn record(spec: &'static SpanSpec, n: u64) -> Finished {
        Finished {
            trace_id: 0x5759_e988_bd86_2e3f_e1be_46a9_9427_2793 ^ u128::from(n),
            span_id: 0x5399_5c3f_42cd_8ad8 ^ n,
            parent_id: if n.is_multiple_of(3) {
                0
            } else {
                0x0102_0304_0506_0708 + n
            },
            parent_remote: n % 5 == 1,
            generation: 0,
            spec,
            start: 1_000 + n * 10,
            end: 1_500 + n * 20,
            extra: None,
            trace_state: None,
            held: false,
        }
    }

    /// Values of every type, at their edges.
    fn attributes() -> Vec<KeyValue> {
        vec![
            KeyValue::new("bool.true", true),
            KeyValue::new("bool.false", false),
            KeyValue::new("int.zero", 0i64),
            KeyValue::new("int.negative", -42i64),
            KeyValue::new("int.min", i64::MIN),
            KeyValue::new("int.max", i64::MAX),
            KeyValue::new("double", 2.5f64),
            KeyValue::new("double.zero", 0.0f64),
            KeyValue::new("double.infinite", f64::NEG_INFINITY),
            KeyValue::new("string", "order-17"),
            KeyValue::new("string.empty", ""),
            KeyValue::new("string.long", "é".repeat(300)),
            KeyValue::new("", "empty key"),
            KeyValue::new("bools", Value::Array(Array::Bool(vec![true, false]))),
            KeyValue::new("ints", Value::Array(Array::I64(vec![0, -1, 1 << 40]))),
            KeyValue::new("doubles", Value::Array(Array::F64(vec![-0.5, 1e300]))),
            KeyValue::new(
                "strings",
                Value::Array(Array::String(vec!["a".into(), "".into()])),
            ),
            KeyValue::new("strings.none", Value::Array(Array::String(Vec::new()))),
            KeyValue::new("ints.none", Value::Array(Array::I64(Vec::new()))),
        ]
    }

    fn with_extra(mut span: Finished, extra: Extra) -> Finished {
        span.extra = Some(Box::new(extra));
        span
    }

    /// Span records of every shape the span path makes.
    fn records() -> Vec<Finished> {
        assert_eq!(LONGEST_SHORT.name.len(), MAX_SHORT_NAME);
        assert_eq!(LONG.name.len(), MAX_SHORT_NAME + 1);
        let mut spans = vec![
            record(&PLAIN, 0),
            record(&SERVER, 1),
            record(&UNNAMED, 2),
            record(&LONGEST_SHORT, 10),
            record(&LONG, 11),
            record(&LONG, 12),
        ];
        spans.push(with_extra(
            record(&SERVER, 4),
            Extra {
                attributes: attributes(),
                annotations: vec!["customer".into(), "region".into()],
                events: vec![
                    RawEvent {
                        name: "exception".into(),
                        at: 1_234,
                        attributes: vec![
                            KeyValue::new("exception.type", "io::Error"),
                            KeyValue::new("exception.message", "connection reset"),
                        ],
                    },
                    RawEvent {
                        name: Cow::Borrowed(""),
                        at: 0,
                        attributes: Vec::new(),
                    },
                ],
                links: vec![
                    Link::new(
                        SpanContext::new(
                            TraceId::from(0x0af7_6519_16cd_43dd_8448_eb21_1c80_319c),
                            SpanId::from(0xb7ad_6b71_6920_3331),
                            TraceFlags::SAMPLED,
                            true,
                            TraceState::from_key_value([("vendor", "value")])
                                .expect("a valid trace state"),
                        ),
                        vec![KeyValue::new("messaging.message.id", "m-1")],
                        0,
                    ),
                    Link::new(
                        SpanContext::new(
                            TraceId::from(1),
                            SpanId::from(2),
                            TraceFlags::default(),
                            false,
                            TraceState::default(),
                        ),
                        Vec::new(),
                        3,
                    ),
                ],
                status: Status::error("connection reset"),
                ..Extra::default()
            },
        ));
        spans.push(with_extra(
            record(&PLAIN, 5),
            Extra {
                status: Status::Ok,
                name: Some("renamed at run time".into()),
                kind: Some(SpanKind::Producer),
                ..Extra::default()
            },
        ));
        spans.push(with_extra(
            record(&PLAIN, 6),
            Extra {
                status: Status::error(""),
                kind: Some(SpanKind::Client),
                ..Extra::default()
            },
        ));
        // A root continuing a remote trace, with the caller's trace state.
        let mut remote = record(&SERVER, 7);
        remote.parent_remote = true;
        remote.trace_state = Some(
            TraceState::from_key_value([("vendor", "value"), ("other", "x")])
                .expect("a valid trace state"),
        );
        spans.push(remote);
        let mut empty_state = record(&SERVER, 8);
        empty_state.trace_state = Some(TraceState::default());
        spans.push(empty_state);
        // Before the clock's epoch: the times are left out.
        let mut at_zero = record(&PLAIN, 9);
        at_zero.start = 0;
        at_zero.end = 0;
        spans.push(at_zero);
        spans
    }

    fn scope(name: &'static str) -> InstrumentationScope {
        InstrumentationScope::builder(name)
            .with_version("1.2.3")
            .with_schema_url("https://opentelemetry.io/schemas/1.30.0")
            .with_attributes([KeyValue::new("scope.attribute", 7i64)])
            .build()
    }

    /// A span made through the OpenTelemetry API, with links.
    fn sdk_span(scope: InstrumentationScope, n: u64) -> SpanData {
        let context = |trace: u128, span: u64, remote: bool| {
            SpanContext::new(
                TraceId::from(trace),
                SpanId::from(span),
                TraceFlags::SAMPLED,
                remote,
                TraceState::from_key_value([("k", "v")]).expect("a valid trace state"),
            )
        };
        let mut links = SpanLinks::default();
        links.links.push(Link::new(
            context(99, 98, true),
            vec![KeyValue::new("link.attribute", "x")],
            1,
        ));
        links.dropped_count = 2;
        let mut events = SpanEvents::default();
        events.events.push(Event::new(
            "checkpoint",
            UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            vec![KeyValue::new("step", 3i64)],
            0,
        ));
        SpanData {
            span_context: context(u128::from(n) + 1, n + 1, false),
            parent_span_id: SpanId::from(n + 100),
            parent_span_is_remote: n.is_multiple_of(2),
            span_kind: SpanKind::Client,
            name: format!("sdk span {n}").into(),
            start_time: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            end_time: UNIX_EPOCH + Duration::from_secs(1_700_000_001),
            attributes: vec![
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new(
                    ANNOTATIONS_KEY,
                    Value::Array(Array::String(vec!["a".into()])),
                ),
                KeyValue::new(
                    ANNOTATIONS_KEY,
                    Value::Array(Array::String(vec!["b".into()])),
                ),
            ],
            dropped_attributes_count: 1,
            events,
            links,
            status: Status::error("boom"),
            instrumentation_scope: scope,
        }
    }

    fn resource() -> Resource {
        Resource::builder_empty()
            .with_schema_url(
                [
                    KeyValue::new("service.name", "orders"),
                    KeyValue::new("cloud.platform", "aws_ecs"),
                    KeyValue::new("process.pid", 4242i64),
                ],
                "https://opentelemetry.io/schemas/1.30.0",
            )
            .build()
    }

    fn batch(spans: Vec<Finished>, sdk_spans: Vec<SpanData>, converter: Converter) -> Batch {
        Batch {
            seq: 0,
            spans,
            sdk_spans,
            converter,
        }
    }

    /// Encodes `spans` and `sdk_spans` both ways; asserts the same bytes,
    /// and the same request once decoded.
    fn same_as_reference(resource: &Resource, spans: Vec<Finished>, sdk_spans: Vec<SpanData>) {
        let scope = scope("xray-runtime");
        let converter = Converter::now();
        let expected = reference(
            resource,
            &scope,
            batch(spans.clone(), sdk_spans.clone(), converter),
        );
        let mut encoder = Encoder::new(resource, &scope);
        for room in [0, 5] {
            let encoded = encoder.encode(batch(spans.clone(), sdk_spans.clone(), converter), room);
            assert!(encoded.start >= room);
            let decoded = ExportTraceServiceRequest::decode(encoded.message())
                .expect("our bytes decode as an ExportTraceServiceRequest");
            let reference_decoded = ExportTraceServiceRequest::decode(expected.as_slice())
                .expect("the reference decodes");
            assert_eq!(decoded, reference_decoded);
            let ours = encoded.message();
            let first = ours.iter().zip(&expected).position(|(a, b)| a != b);
            assert!(
                ours == expected.as_slice(),
                "same request, different bytes: {} and {} bytes, first difference at {first:?}: {:?} vs {:?}",
                ours.len(),
                expected.len(),
                &ours[first.unwrap_or(0).saturating_sub(8)..][..24.min(ours.len())],
                &expected[first.unwrap_or(0).saturating_sub(8)..][..24.min(expected.len())],
            );
        }
        // Into a reused buffer, already holding a longer request.
        let mut buf = vec![0xff; expected.len() * 2 + 100];
        let start = encoder.encode_into(batch(spans, sdk_spans, converter), &mut buf, 3);
        assert_eq!(&buf[start..], expected.as_slice());
    }

    #[test]
    fn span_records_of_every_shape() {
        same_as_reference(&resource(), records(), Vec::new());
    }

    #[test]
    fn spans_of_the_opentelemetry_api_under_their_scopes_after_ours() {
        let sdk = vec![
            sdk_span(scope("library-a"), 1),
            sdk_span(InstrumentationScope::builder("library-b").build(), 2),
            sdk_span(scope("library-a"), 3),
        ];
        same_as_reference(&resource(), records(), sdk.clone());
        same_as_reference(&resource(), Vec::new(), sdk);
    }

    #[test]
    fn empty_batches_and_resources() {
        same_as_reference(&resource(), Vec::new(), Vec::new());
        same_as_reference(&Resource::builder_empty().build(), records(), Vec::new());
    }

    #[test]
    fn large_batches_whose_lengths_take_several_bytes() {
        let mut spans: Vec<Finished> = (0..3_000).map(|n| record(&SERVER, n)).collect();
        spans.extend(records());
        spans.extend(records());
        same_as_reference(&resource(), spans, Vec::new());
    }
}
