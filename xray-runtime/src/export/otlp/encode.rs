//! Batches as OTLP protobuf: an `ExportTraceServiceRequest` built straight
//! from the span records, without the detour through `SpanData`.

use opentelemetry::InstrumentationScope;
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope as ProtoScope;
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, SpanFlags, Status as ProtoStatus, span, status,
};
use opentelemetry_proto::transform::common::tonic::{Attributes, ResourceAttributesWithSchema};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanData;

use crate::clock::Converter;
use crate::export::boxed::merge_annotation_lists;
use crate::export::lane::Batch;
use crate::record::{ANNOTATIONS_KEY, Finished};

/// Builds requests for one resource and instrumentation scope.
#[derive(Clone, Debug)]
pub(crate) struct Encoder {
    resource: ProtoResource,
    schema_url: String,
    scope: ProtoScope,
}

impl Encoder {
    pub(crate) fn new(resource: &Resource, scope: &InstrumentationScope) -> Self {
        let attributes = ResourceAttributesWithSchema::from(resource);
        Self {
            resource: ProtoResource {
                attributes: attributes.attributes.0,
                dropped_attributes_count: 0,
                entity_refs: Vec::new(),
            },
            schema_url: attributes.schema_url.unwrap_or_default(),
            scope: ProtoScope::from((scope, None)),
        }
    }

    /// The request carrying every span of `batch`: ours under our scope,
    /// those made through the OpenTelemetry API under theirs.
    pub(crate) fn request(&self, batch: Batch) -> ExportTraceServiceRequest {
        let mut scope_spans = Vec::with_capacity(1);
        if !batch.spans.is_empty() {
            let converter = batch.converter;
            scope_spans.push(ScopeSpans {
                scope: Some(self.scope.clone()),
                spans: batch
                    .spans
                    .into_iter()
                    .map(|span| proto_span(span, &converter))
                    .collect(),
                schema_url: String::new(),
            });
        }
        group_by_scope(batch.sdk_spans, &mut scope_spans);
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(self.resource.clone()),
                scope_spans,
                schema_url: self.schema_url.clone(),
            }],
        }
    }
}

/// Spans made through the OpenTelemetry API, one `ScopeSpans` per scope.
fn group_by_scope(spans: Vec<SpanData>, out: &mut Vec<ScopeSpans>) {
    let first_sdk = out.len();
    let mut scopes: Vec<InstrumentationScope> = Vec::new();
    for mut span in spans {
        merge_annotation_lists(&mut span);
        let index = match scopes.iter().position(|s| *s == span.instrumentation_scope) {
            Some(index) => index,
            None => {
                scopes.push(span.instrumentation_scope.clone());
                out.push(ScopeSpans {
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
        out[first_sdk + index].spans.push(Span::from(span));
    }
}

/// The W3C trace flags (sampled), and that the parent's remoteness is known.
fn flags(parent_remote: bool) -> u32 {
    let mut flags = 0x01 | SpanFlags::ContextHasIsRemoteMask as u32;
    if parent_remote {
        flags |= SpanFlags::ContextIsRemoteMask as u32;
    }
    flags
}

fn kind(kind: &SpanKind) -> span::SpanKind {
    match kind {
        SpanKind::Internal => span::SpanKind::Internal,
        SpanKind::Server => span::SpanKind::Server,
        SpanKind::Client => span::SpanKind::Client,
        SpanKind::Producer => span::SpanKind::Producer,
        SpanKind::Consumer => span::SpanKind::Consumer,
    }
}

fn proto_status(status: Status) -> Option<ProtoStatus> {
    match status {
        Status::Unset => None,
        Status::Ok => Some(ProtoStatus {
            code: status::StatusCode::Ok as i32,
            message: String::new(),
        }),
        Status::Error { description } => Some(ProtoStatus {
            code: status::StatusCode::Error as i32,
            message: description.into_owned(),
        }),
    }
}

/// One span record as OTLP.
fn proto_span(span: Finished, converter: &Converter) -> Span {
    let mut out = Span {
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
        kind: kind(&span.spec.kind) as i32,
        start_time_unix_nano: converter.unix_nanos(span.start),
        end_time_unix_nano: converter.unix_nanos(span.end),
        ..Span::default()
    };
    if let Some(extra) = span.extra {
        let extra = *extra;
        if let Some(name) = extra.name {
            out.name = name.into_owned();
        }
        if let Some(dynamic) = &extra.kind {
            out.kind = kind(dynamic) as i32;
        }
        let mut attributes = extra.attributes;
        if !extra.annotations.is_empty() {
            attributes.push(opentelemetry::KeyValue::new(
                ANNOTATIONS_KEY,
                opentelemetry::Value::Array(opentelemetry::Array::String(extra.annotations)),
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
        out.status = proto_status(extra.status);
    }
    out
}
