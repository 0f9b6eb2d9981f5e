//! Spans counted in an OTLP `ExportTraceServiceRequest` by walking the
//! protobuf wire format, without decoding it: field 1 of the request
//! (`ResourceSpans`), field 2 of each of those (`ScopeSpans`), field 2 of
//! each of those (`Span`). Only tags and lengths are read; everything else
//! is skipped over.

use std::fmt;

/// Why a body is not a well-formed request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireError {
    /// A field or a length runs past the end of its message.
    Truncated,
    /// A varint longer than 10 bytes.
    LongVarint,
    /// Field number 0, or a wire type protobuf does not have (or the
    /// deprecated groups, which OTLP never uses).
    BadTag(u64),
    /// A message field of the path above sent with another wire type.
    NotAMessage(u64),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => f.write_str("truncated message"),
            Self::LongVarint => f.write_str("varint longer than 10 bytes"),
            Self::BadTag(tag) => write!(f, "invalid tag {tag:#x}"),
            Self::NotAMessage(field) => write!(f, "field {field} is not length-delimited"),
        }
    }
}

impl std::error::Error for WireError {}

/// `ExportTraceServiceRequest.resource_spans`.
const RESOURCE_SPANS: u64 = 1;
/// `ResourceSpans.scope_spans`.
const SCOPE_SPANS: u64 = 2;
/// `ScopeSpans.spans`.
const SPANS: u64 = 2;

/// How many spans the encoded request carries.
pub fn count_spans(request: &[u8]) -> Result<u64, WireError> {
    let mut spans = 0u64;
    for_each_message(request, RESOURCE_SPANS, |resource_spans| {
        for_each_message(resource_spans, SCOPE_SPANS, |scope_spans| {
            for_each_message(scope_spans, SPANS, |_span| {
                spans += 1;
                Ok(())
            })
        })
    })?;
    Ok(spans)
}

/// Calls `f` with the bytes of every occurrence of the message field
/// `wanted` of the message `buf`, skipping the other fields.
fn for_each_message(
    mut buf: &[u8],
    wanted: u64,
    mut f: impl FnMut(&[u8]) -> Result<(), WireError>,
) -> Result<(), WireError> {
    while !buf.is_empty() {
        let tag = varint(&mut buf)?;
        let field = tag >> 3;
        if field == 0 {
            return Err(WireError::BadTag(tag));
        }
        match tag & 7 {
            // varint
            0 => {
                varint(&mut buf)?;
            }
            // 64-bit
            1 => buf = buf.get(8..).ok_or(WireError::Truncated)?,
            // length-delimited
            2 => {
                let len = usize::try_from(varint(&mut buf)?).map_err(|_| WireError::Truncated)?;
                if len > buf.len() {
                    return Err(WireError::Truncated);
                }
                let (value, rest) = buf.split_at(len);
                if field == wanted {
                    f(value)?;
                }
                buf = rest;
                continue;
            }
            // 32-bit
            5 => buf = buf.get(4..).ok_or(WireError::Truncated)?,
            _ => return Err(WireError::BadTag(tag)),
        }
        if field == wanted {
            return Err(WireError::NotAMessage(field));
        }
    }
    Ok(())
}

/// Reads one base-128 varint from the front of `buf`.
fn varint(buf: &mut &[u8]) -> Result<u64, WireError> {
    let mut value = 0u64;
    for (i, &byte) in buf.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            *buf = &buf[i + 1..];
            return Ok(value);
        }
    }
    if buf.len() < 10 {
        Err(WireError::Truncated)
    } else {
        Err(WireError::LongVarint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{
        AnyValue, InstrumentationScope, KeyValue, any_value,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
    use prost::Message;

    fn attribute(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(value.to_owned())),
            }),
            ..KeyValue::default()
        }
    }

    /// A span with every kind of field: varints, fixed64 times, bytes,
    /// nested messages (attributes, events, links, status) that must not be
    /// counted as spans.
    fn span(i: u64) -> Span {
        Span {
            trace_id: vec![7; 16],
            span_id: i.to_be_bytes().to_vec(),
            parent_span_id: if i % 2 == 0 { vec![1; 8] } else { Vec::new() },
            flags: 0x301,
            name: format!("span {i}"),
            kind: span::SpanKind::Server as i32,
            start_time_unix_nano: 1_700_000_000_000_000_000 + i,
            end_time_unix_nano: 1_700_000_000_000_001_000 + i,
            attributes: vec![attribute("http.route", "/x"), attribute("n", "1")],
            events: vec![span::Event {
                time_unix_nano: 5,
                name: "event".to_owned(),
                attributes: vec![attribute("e", "v")],
                dropped_attributes_count: 1,
            }],
            links: vec![span::Link {
                trace_id: vec![9; 16],
                span_id: vec![8; 8],
                attributes: vec![attribute("l", "v")],
                ..span::Link::default()
            }],
            status: Some(Status {
                code: 2,
                message: "bad".to_owned(),
            }),
            dropped_attributes_count: 3,
            ..Span::default()
        }
    }

    fn scope_spans(spans: u64) -> ScopeSpans {
        ScopeSpans {
            scope: Some(InstrumentationScope {
                name: "scope".to_owned(),
                version: "1.0".to_owned(),
                attributes: vec![attribute("s", "v")],
                dropped_attributes_count: 0,
            }),
            spans: (0..spans).map(span).collect(),
            schema_url: "https://opentelemetry.io/schemas/1.26.0".to_owned(),
        }
    }

    fn request(shape: &[&[u64]]) -> Vec<u8> {
        ExportTraceServiceRequest {
            resource_spans: shape
                .iter()
                .map(|scopes| ResourceSpans {
                    resource: Some(Resource {
                        attributes: vec![attribute("service.name", "bench")],
                        ..Resource::default()
                    }),
                    scope_spans: scopes.iter().map(|&n| scope_spans(n)).collect(),
                    schema_url: "https://opentelemetry.io/schemas/1.26.0".to_owned(),
                })
                .collect(),
        }
        .encode_to_vec()
    }

    #[test]
    fn an_empty_request_has_no_span() {
        assert_eq!(count_spans(&[]), Ok(0));
        assert_eq!(count_spans(&request(&[])), Ok(0));
        assert_eq!(count_spans(&request(&[&[]])), Ok(0));
        assert_eq!(count_spans(&request(&[&[0, 0]])), Ok(0));
    }

    #[test]
    fn spans_of_every_resource_and_scope_are_counted() {
        assert_eq!(count_spans(&request(&[&[1]])), Ok(1));
        assert_eq!(count_spans(&request(&[&[3, 0, 5], &[2]])), Ok(10));
        assert_eq!(count_spans(&request(&[&[512]])), Ok(512));
        let seven: Vec<&[u64]> = vec![&[100]; 7];
        assert_eq!(count_spans(&request(&seven)), Ok(700));
    }

    #[test]
    fn a_cut_body_is_an_error() {
        let body = request(&[&[3, 4]]);
        for cut in 1..body.len() {
            assert!(
                count_spans(&body[..cut]).is_err(),
                "a body cut at {cut} of {} bytes was accepted",
                body.len()
            );
        }
    }

    #[test]
    fn malformed_tags_are_errors() {
        // Field 0.
        assert_eq!(count_spans(&[0x02, 0x00]), Err(WireError::BadTag(0x02)));
        // Wire type 3 (start group).
        assert_eq!(count_spans(&[0x0b]), Err(WireError::BadTag(0x0b)));
        // Field 1 as a varint: not a message.
        assert_eq!(count_spans(&[0x08, 0x01]), Err(WireError::NotAMessage(1)));
        // An endless varint.
        assert_eq!(count_spans(&[0xff; 11]), Err(WireError::LongVarint));
        assert_eq!(count_spans(&[0xff; 3]), Err(WireError::Truncated));
    }

    #[test]
    fn unknown_fields_are_skipped() {
        let mut body = request(&[&[2]]);
        // Field 99 of every wire type the format allows, appended to the request.
        body.extend_from_slice(&[0x98, 0x06, 0x96, 0x01]); // varint 150
        body.extend_from_slice(&[0x99, 0x06, 1, 2, 3, 4, 5, 6, 7, 8]); // fixed64
        body.extend_from_slice(&[0x9a, 0x06, 2, 0xaa, 0xbb]); // bytes
        body.extend_from_slice(&[0x9d, 0x06, 1, 2, 3, 4]); // fixed32
        assert_eq!(count_spans(&body), Ok(2));
    }
}
