//! Log records as OTLP (`ExportLogsServiceRequest`), for the logs' OTLP
//! exporter: to a collector, or to CloudWatch Logs' own endpoint (signed
//! with SigV4, with the log group and stream headers).

use std::time::UNIX_EPOCH;

use opentelemetry::InstrumentationScope;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, InstrumentationScope as ProtoScope, any_value,
};
use opentelemetry_proto::tonic::logs::v1::{
    LogRecord as ProtoRecord, LogRecordFlags, ResourceLogs, ScopeLogs,
};
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::transform::common::tonic::Attributes;
use opentelemetry_sdk::Resource;
use prost::Message;

use super::record::LogRecord;
use crate::signals::otlp::{Encode, proto_resource};

/// Builds requests for one resource.
pub(crate) struct Encoder {
    resource: ProtoResource,
    schema_url: String,
    /// The version of every scope (the toolkit's).
    version: String,
}

impl Encoder {
    pub(crate) fn new(resource: &Resource, scope: &InstrumentationScope) -> Self {
        let (resource, schema_url) = proto_resource(resource);
        Self {
            resource,
            schema_url,
            version: scope.version().unwrap_or_default().to_string(),
        }
    }

    /// The request carrying `batch`: one `ScopeLogs` per target, as the
    /// OpenTelemetry SDK groups them, in the order the targets first appear.
    pub(crate) fn request(&self, batch: &[LogRecord]) -> ExportLogsServiceRequest {
        let mut scopes: Vec<ScopeLogs> = Vec::new();
        for record in batch {
            let proto = proto_record(record);
            let scope = scopes.iter_mut().find(|s| {
                s.scope
                    .as_ref()
                    .is_some_and(|scope| scope.name == record.target)
            });
            match scope {
                Some(scope) => scope.log_records.push(proto),
                None => scopes.push(ScopeLogs {
                    scope: Some(ProtoScope {
                        name: record.target.to_string(),
                        version: self.version.clone(),
                        ..ProtoScope::default()
                    }),
                    log_records: vec![proto],
                    schema_url: String::new(),
                }),
            }
        }
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(self.resource.clone()),
                scope_logs: scopes,
                schema_url: self.schema_url.clone(),
            }],
        }
    }
}

/// The W3C trace flag "sampled".
const SAMPLED: u32 = 0x01;

fn proto_record(record: &LogRecord) -> ProtoRecord {
    let nanos = record
        .time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut proto = ProtoRecord {
        time_unix_nano: nanos,
        observed_time_unix_nano: nanos,
        severity_number: record.severity.number(),
        severity_text: record.severity.text().to_string(),
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue(record.body.clone())),
        }),
        attributes: Attributes::from(record.attributes.clone()).0,
        ..ProtoRecord::default()
    };
    if let Some(ids) = &record.span {
        proto.trace_id = ids.trace_id.to_be_bytes().to_vec();
        proto.span_id = ids.span_id.to_be_bytes().to_vec();
        if ids.sampled {
            // The W3C trace flags, in the mask's low byte: sampled.
            proto.flags = LogRecordFlags::TraceFlagsMask as u32 & SAMPLED;
        }
    }
    proto
}

impl Encode<[LogRecord]> for Encoder {
    fn encode(&self, batch: &[LogRecord]) -> Vec<u8> {
        self.request(batch).encode_to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::record::{Severity, SpanIds};
    use opentelemetry::KeyValue;
    use std::time::{Duration, SystemTime};

    fn record(target: &'static str, body: &str, span: Option<SpanIds>) -> LogRecord {
        LogRecord {
            time: SystemTime::UNIX_EPOCH + Duration::from_nanos(1_700_000_000_000_000_123),
            severity: Severity::Error,
            target: target.into(),
            body: body.into(),
            attributes: vec![KeyValue::new("order.id", 7)],
            span,
        }
    }

    #[test]
    fn records_carry_their_span_and_group_by_target() {
        let resource = Resource::builder_empty().with_service_name("shop").build();
        let scope = InstrumentationScope::builder("xray")
            .with_version("0.1.0")
            .build();
        let encoder = Encoder::new(&resource, &scope);
        let sampled = SpanIds {
            trace_id: 0x5759e988_bd862e3fe1be46a994272793,
            span_id: 0x53995c3f42cd8ad8,
            sampled: true,
        };
        let request = encoder.request(&[
            record("shop", "one", Some(sampled)),
            record("db", "two", None),
            record(
                "shop",
                "three",
                Some(SpanIds {
                    sampled: false,
                    ..sampled
                }),
            ),
        ]);
        let resource_logs = &request.resource_logs[0];
        let service = &resource_logs
            .resource
            .as_ref()
            .expect("resource")
            .attributes;
        assert!(service.iter().any(|kv| kv.key == "service.name"));
        let scopes: Vec<&str> = resource_logs
            .scope_logs
            .iter()
            .map(|s| s.scope.as_ref().map_or("", |s| s.name.as_str()))
            .collect();
        assert_eq!(scopes, ["shop", "db"]);
        let shop = &resource_logs.scope_logs[0].log_records;
        assert_eq!(shop.len(), 2);
        assert_eq!(shop[0].trace_id, sampled.trace_id.to_be_bytes());
        assert_eq!(shop[0].span_id, sampled.span_id.to_be_bytes());
        assert_eq!(shop[0].flags, 1, "sampled");
        assert_eq!(shop[1].flags, 0, "recorded, not sampled");
        assert_eq!(shop[0].severity_number, 17);
        assert_eq!(shop[0].severity_text, "ERROR");
        assert_eq!(shop[0].time_unix_nano, 1_700_000_000_000_000_123);
        let db = &resource_logs.scope_logs[1].log_records[0];
        assert!(db.trace_id.is_empty() && db.span_id.is_empty());
        assert_eq!(db.attributes[0].key, "order.id");
    }
}
