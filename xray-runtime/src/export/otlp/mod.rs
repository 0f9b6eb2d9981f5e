//! OTLP to a collector, over HTTP/protobuf or gRPC.
//!
//! * `encode`: batches as the bytes of `ExportTraceServiceRequest`s, written
//!   straight from the span records (`protobuf`: the wire format);
//! * `lane`: the exporter as the export thread drives it: requests encoded
//!   on the export thread (and compressed there), sent with several in
//!   flight;
//! * `client`: the connection of one signal (traces, logs or metrics): a
//!   runtime of its own, the transport, retries when the receiver says so,
//!   within the export timeout;
//! * `http` and `grpc`: the two transports (`quick_ack`: the gRPC
//!   connection's TCP stream, acknowledging at once);
//! * `tls`: the roots trusted and the client certificate, for `https://`;
//! * `aws`, `credentials`, `sigv4`: SigV4 signing for AWS endpoints, with
//!   credentials from the AWS default chain kept fresh in the background;
//! * `aws_host`: the service and region an AWS endpoint is signed for.

use std::time::Duration;

#[cfg(all(feature = "aws", feature = "otlp-http"))]
mod aws;
pub(crate) mod aws_host;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod client;
#[cfg(all(feature = "aws", feature = "otlp-http"))]
mod credentials;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod encode;
#[cfg(feature = "otlp-grpc")]
mod grpc;
#[cfg(feature = "otlp-http")]
mod http;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod lane;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod protobuf;
#[cfg(feature = "otlp-grpc")]
mod quick_ack;
#[cfg(all(feature = "aws", feature = "otlp-http"))]
mod sigv4;
#[cfg(all(feature = "tls", any(feature = "otlp-grpc", feature = "otlp-http")))]
mod tls;

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) use client::OtlpClient;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) use lane::OtlpLane;

/// What an OTLP request carries: each signal has its own path, gRPC
/// service and signing name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Signal {
    #[default]
    Traces,
    Logs,
    Metrics,
}

impl Signal {
    /// The path of the signal on an OTLP/HTTP receiver.
    pub(crate) fn http_path(self) -> &'static str {
        match self {
            Self::Traces => "/v1/traces",
            Self::Logs => "/v1/logs",
            Self::Metrics => "/v1/metrics",
        }
    }

    /// The gRPC method that exports the signal.
    #[cfg_attr(not(feature = "otlp-grpc"), allow(dead_code))]
    pub(crate) fn grpc_method(self) -> &'static str {
        match self {
            Self::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            Self::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
            Self::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
        }
    }

    /// The SigV4 signing name of the AWS service that takes the signal,
    /// when the endpoint's host does not name one: AWS X-Ray for traces,
    /// CloudWatch Logs for logs, CloudWatch for metrics.
    pub(crate) fn signing_service(self) -> &'static str {
        match self {
            Self::Traces => "xray",
            Self::Logs => "logs",
            Self::Metrics => "monitoring",
        }
    }
}

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
#[cfg_attr(
    not(any(feature = "otlp-grpc", feature = "otlp-http")),
    allow(dead_code)
)]
pub(crate) struct OtlpSettings {
    /// Traces, logs or metrics.
    #[cfg_attr(not(any(feature = "otlp-grpc", feature = "aws")), allow(dead_code))]
    pub signal: Signal,
    pub protocol: Protocol,
    /// The full URL: `.../v1/traces` (or the signal's path) for HTTP, the
    /// server's for gRPC. Empty for AWS's own endpoint (X-Ray's, CloudWatch
    /// Logs') when the region is not known yet (`signing.region` is
    /// `None`): the exporter finds it in the profile.
    pub endpoint: String,
    /// Extra request headers (`OTEL_EXPORTER_OTLP_HEADERS`).
    pub headers: Vec<(String, String)>,
    /// How long one export (with its retries) may take.
    pub timeout: Duration,
    pub compression: Compression,
    /// Certificates for `https://` endpoints.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub tls: TlsFiles,
    /// SigV4 signing of each request, for AWS endpoints.
    pub signing: Option<Signing>,
}

/// A file named by a variable.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "tls"), allow(dead_code))]
pub(crate) struct FileFrom {
    pub variable: &'static str,
    pub path: std::path::PathBuf,
}

/// `OTEL_EXPORTER_OTLP_CERTIFICATE`, `_CLIENT_CERTIFICATE`, `_CLIENT_KEY`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(not(feature = "tls"), allow(dead_code))]
pub(crate) struct TlsFiles {
    /// An extra trusted CA (PEM), on top of the system's and the webpki roots.
    pub ca: Option<FileFrom>,
    /// The client's certificate and key (PEM), for mutual TLS.
    pub client_certificate: Option<FileFrom>,
    pub client_key: Option<FileFrom>,
}

/// How requests are signed with SigV4.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub(crate) struct Signing {
    /// The signing name: `xray`, `logs`, ...
    pub service: String,
    /// `None`: from the AWS profile, when the exporter starts.
    pub region: Option<String>,
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
