//! What a log record is on its way to the exporters, and the trace context
//! it carries.

use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry::KeyValue;
use opentelemetry::trace::SpanContext;

use crate::propagation::xray_trace_id;
use crate::span::current::current_span_context;

/// How severe a record is, as OpenTelemetry numbers it (`SeverityNumber`)
/// and names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(any(feature = "tracing", feature = "log")), allow(dead_code))]
pub(crate) enum Severity {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl Severity {
    /// The OpenTelemetry severity number (the first of each range).
    #[cfg_attr(
        not(any(feature = "otlp-grpc", feature = "otlp-http")),
        allow(dead_code)
    )]
    pub(crate) fn number(self) -> i32 {
        match self {
            Self::Trace => 1,
            Self::Debug => 5,
            Self::Info => 9,
            Self::Warn => 13,
            Self::Error => 17,
        }
    }

    pub(crate) fn text(self) -> &'static str {
        match self {
            Self::Trace => "TRACE",
            Self::Debug => "DEBUG",
            Self::Info => "INFO",
            Self::Warn => "WARN",
            Self::Error => "ERROR",
        }
    }
}

/// The span a record was written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SpanIds {
    pub trace_id: u128,
    pub span_id: u64,
    /// Sampled (the trace is exported), not merely recorded.
    pub sampled: bool,
}

#[cfg_attr(not(any(feature = "tracing", feature = "log")), allow(dead_code))]
impl SpanIds {
    /// The current span's, if any: the innermost traced span of this
    /// thread, or a span made current through the OpenTelemetry API inside it.
    pub(crate) fn current() -> Option<Self> {
        current_span_context().map(|sc| Self::of(&sc))
    }

    fn of(sc: &SpanContext) -> Self {
        Self {
            trace_id: u128::from_be_bytes(sc.trace_id().to_bytes()),
            span_id: u64::from_be_bytes(sc.span_id().to_bytes()),
            sampled: sc.is_sampled(),
        }
    }

    /// The trace id in X-Ray form: `1-5759e988-bd862e3fe1be46a994272793`.
    pub(crate) fn xray_trace_id(&self) -> String {
        xray_trace_id(opentelemetry::trace::TraceId::from(self.trace_id))
    }

    /// The span id: 16 hex digits.
    pub(crate) fn span_id_hex(&self) -> String {
        format!("{:016x}", self.span_id)
    }
}

/// One log record.
#[derive(Clone, Debug)]
pub(crate) struct LogRecord {
    pub time: SystemTime,
    pub severity: Severity,
    /// Where it was written (the `tracing` or `log` target): the record's
    /// instrumentation scope.
    pub target: Cow<'static, str>,
    /// The message.
    pub body: String,
    /// The other fields (and where in the code it was written).
    pub attributes: Vec<KeyValue>,
    /// The span it was written in, if any.
    pub span: Option<SpanIds>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_as_x_ray_writes_them() {
        let ids = SpanIds {
            trace_id: 0x5759e988_bd862e3fe1be46a994272793,
            span_id: 0x53995c3f42cd8ad8,
            sampled: true,
        };
        assert_eq!(ids.xray_trace_id(), "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(ids.span_id_hex(), "53995c3f42cd8ad8");
        let small = SpanIds {
            span_id: 0xab,
            ..ids
        };
        assert_eq!(small.span_id_hex(), "00000000000000ab");
        assert_eq!(SpanIds::current(), None, "no span here");
        assert_eq!(Severity::Warn.number(), 13);
    }
}
