//! OTLP to a collector, over HTTP/protobuf or gRPC.
//!
//! * `encode`: batches as `ExportTraceServiceRequest`s, built straight from
//!   the span records;
//! * `lane`: the exporter as the export thread drives it: requests encoded
//!   on the export thread, sent on a runtime of their own with several in
//!   flight, retried when the receiver says so, within the export timeout;
//! * `http` and `grpc`: the two transports.

use std::time::Duration;

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod encode;
#[cfg(feature = "otlp-grpc")]
mod grpc;
#[cfg(feature = "otlp-http")]
mod http;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod lane;

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) use lane::OtlpLane;

/// OTLP transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP over gRPC (port 4317 by convention).
    Grpc,
    /// OTLP over HTTP with protobuf bodies (port 4318 by convention); the OTLP default.
    HttpProtobuf,
}

impl Protocol {
    /// The name `OTEL_EXPORTER_OTLP_PROTOCOL` uses.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Grpc => "grpc",
            Self::HttpProtobuf => "http/protobuf",
        }
    }
}

/// How request bodies are compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
}

/// Everything the OTLP exporter needs, resolved by the configuration.
#[derive(Clone, Debug)]
pub(crate) struct OtlpSettings {
    pub protocol: Protocol,
    /// The full URL: `.../v1/traces` for HTTP, the server's for gRPC.
    pub endpoint: String,
    /// Extra request headers (`OTEL_EXPORTER_OTLP_HEADERS`).
    pub headers: Vec<(String, String)>,
    /// How long one export (with its retries) may take.
    pub timeout: Duration,
    pub compression: Compression,
}

/// The OTLP exporter cannot be built without its transports.
#[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
pub(crate) struct OtlpLane;

#[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
impl OtlpLane {
    pub(crate) fn start(
        _settings: OtlpSettings,
        _resource: &opentelemetry_sdk::Resource,
        _scope: &opentelemetry::InstrumentationScope,
        _completions: crate::export::lane::Completions,
    ) -> Result<Self, String> {
        Err("xray-runtime was built without the otlp-grpc and otlp-http features".into())
    }
}

#[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
impl crate::export::lane::Lane for OtlpLane {
    fn name(&self) -> &str {
        "OTLP"
    }
    fn max_in_flight(&self) -> usize {
        1
    }
    fn stall_after(&self) -> Duration {
        Duration::ZERO
    }
    fn submit(&mut self, _batch: crate::export::lane::Batch) {}
    fn shutdown(self: Box<Self>, _timeout: Duration) {}
}
