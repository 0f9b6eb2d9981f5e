//! A counting OTLP receiver for the export-path measurements, run inside
//! the driver process (so its CPU time is not charged to the step being
//! measured): OTLP/HTTP (`POST /v1/traces`, HTTP/1.1, hyper) and OTLP/gRPC
//! (`TraceService/Export`, tonic), gzip bodies accepted, TLS optional.
//!
//! Each receiver counts spans by walking the protobuf wire format
//! ([`wire::count_spans`]), not by decoding the request, and answers an
//! empty `ExportTraceServiceResponse` (zero bytes). It counts requests,
//! bytes, gzip-compressed and SigV4-signed requests (the signature is not
//! checked here), and rejected requests. `nagle` leaves Nagle's algorithm
//! on for accepted connections (no `TCP_NODELAY`), as some collectors do.

mod grpc;
mod http;
#[cfg(feature = "secure")]
pub mod tls;
pub mod wire;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The two OTLP transports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// OTLP/HTTP with protobuf bodies.
    Http,
    /// OTLP/gRPC.
    Grpc,
}

impl Transport {
    /// `http` or `grpc`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Grpc => "grpc",
        }
    }

    /// The transport named `name` (`http` or `grpc`).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "http" => Some(Self::Http),
            "grpc" => Some(Self::Grpc),
            _ => None,
        }
    }
}

/// What a receiver counted since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Spans in the requests it accepted.
    pub spans: u64,
    /// Requests it accepted.
    pub requests: u64,
    /// Request bodies as sent (compressed or not).
    pub wire_bytes: u64,
    /// Request bodies once decompressed.
    pub body_bytes: u64,
    /// Accepted requests whose body was gzip-compressed.
    pub gzip: u64,
    /// Accepted requests with an `Authorization: AWS4-HMAC-SHA256 ...` header.
    pub signed: u64,
    /// Requests answered with an error (malformed body, wrong path).
    pub rejected: u64,
    /// Connections whose TLS handshake failed.
    pub tls_failures: u64,
}

impl Counts {
    /// What was counted between `earlier` and `self`.
    pub fn since(&self, earlier: &Counts) -> Counts {
        Counts {
            spans: self.spans - earlier.spans,
            requests: self.requests - earlier.requests,
            wire_bytes: self.wire_bytes - earlier.wire_bytes,
            body_bytes: self.body_bytes - earlier.body_bytes,
            gzip: self.gzip - earlier.gzip,
            signed: self.signed - earlier.signed,
            rejected: self.rejected - earlier.rejected,
            tls_failures: self.tls_failures - earlier.tls_failures,
        }
    }
}

/// The live counters of one receiver.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    spans: AtomicU64,
    requests: AtomicU64,
    wire_bytes: AtomicU64,
    body_bytes: AtomicU64,
    gzip: AtomicU64,
    signed: AtomicU64,
    rejected: AtomicU64,
    tls_failures: AtomicU64,
}

/// One accepted request, as counted.
pub(crate) struct Accepted {
    pub spans: u64,
    pub wire_bytes: usize,
    pub body_bytes: usize,
    pub gzip: bool,
    pub signed: bool,
}

impl Counters {
    pub(crate) fn accepted(&self, request: Accepted) {
        // Spans last: a reader that sees them sees the rest of the request.
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.wire_bytes
            .fetch_add(request.wire_bytes as u64, Ordering::Relaxed);
        self.body_bytes
            .fetch_add(request.body_bytes as u64, Ordering::Relaxed);
        self.gzip
            .fetch_add(u64::from(request.gzip), Ordering::Relaxed);
        self.signed
            .fetch_add(u64::from(request.signed), Ordering::Relaxed);
        self.spans.fetch_add(request.spans, Ordering::Release);
    }

    pub(crate) fn rejected(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    #[cfg_attr(not(feature = "secure"), allow(dead_code))]
    pub(crate) fn tls_failed(&self) {
        self.tls_failures.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> Counts {
        let spans = self.spans.load(Ordering::Acquire);
        Counts {
            spans,
            requests: self.requests.load(Ordering::Relaxed),
            wire_bytes: self.wire_bytes.load(Ordering::Relaxed),
            body_bytes: self.body_bytes.load(Ordering::Relaxed),
            gzip: self.gzip.load(Ordering::Relaxed),
            signed: self.signed.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            tls_failures: self.tls_failures.load(Ordering::Relaxed),
        }
    }
}

/// Whether an `Authorization` value is a SigV4 signature (not verified).
pub(crate) fn is_sigv4(authorization: Option<&[u8]>) -> bool {
    authorization.is_some_and(|v| v.starts_with(b"AWS4-HMAC-SHA256 "))
}

/// Decompresses a gzip body.
pub(crate) fn gunzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::with_capacity(body.len() * 4);
    flate2::read::GzDecoder::new(body).read_to_end(&mut out)?;
    Ok(out)
}

/// The protobuf content type of OTLP/HTTP.
pub(crate) const PROTOBUF: &str = "application/x-protobuf";
/// The path of traces on an OTLP/HTTP receiver.
pub const TRACES_PATH: &str = "/v1/traces";

/// One running receiver.
#[derive(Debug)]
pub struct Receiver {
    transport: Transport,
    nagle: bool,
    addr: SocketAddr,
    tls: bool,
    counters: Arc<Counters>,
}

impl Receiver {
    /// `http` or `grpc`.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Whether Nagle's algorithm is left on for its connections.
    pub fn nagle(&self) -> bool {
        self.nagle
    }

    /// `nagle` or `nodelay`.
    pub fn name(&self) -> &'static str {
        if self.nagle { "nagle" } else { "nodelay" }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL exporters are given: the server for gRPC, the traces URL
    /// for HTTP; `https` when it speaks TLS.
    pub fn endpoint(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        match self.transport {
            Transport::Grpc => format!("{scheme}://{}", self.addr),
            Transport::Http => format!("{scheme}://{}{TRACES_PATH}", self.addr),
        }
    }

    /// What it counted so far.
    pub fn counts(&self) -> Counts {
        self.counters.snapshot()
    }
}

/// The certificate the receivers present, and where its CA is written.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The PEM file of the CA that signed the receivers' certificate.
    pub ca_pem: PathBuf,
    #[cfg_attr(not(feature = "secure"), allow(dead_code))]
    cert_pem: String,
    #[cfg_attr(not(feature = "secure"), allow(dead_code))]
    key_pem: String,
}

/// Receivers on 127.0.0.1 and the runtime that serves them (two worker
/// threads); stopped when dropped.
pub struct Receivers {
    runtime: Option<tokio::runtime::Runtime>,
    receivers: Vec<Receiver>,
    tls: Option<TlsFiles>,
}

impl Receivers {
    /// Starts one receiver per `(transport, nagle)`, each on a free port.
    /// With `tls_dir`, a CA and a certificate for `127.0.0.1` and
    /// `localhost` are generated for the run, the CA written to
    /// `tls_dir/ca.pem`, and every receiver speaks TLS only.
    pub fn start(
        specs: &[(Transport, bool)],
        tls_dir: Option<&std::path::Path>,
    ) -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("otlp-receiver")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the receivers' runtime: {e}"))?;
        let tls = match tls_dir {
            None => None,
            Some(dir) => Some(new_tls(dir)?),
        };
        let mut receivers = Vec::new();
        for &(transport, nagle) in specs {
            let counters = Arc::new(Counters::default());
            let addr = {
                let _enter = runtime.enter();
                match transport {
                    Transport::Http => http::start(nagle, tls.as_ref(), counters.clone())?,
                    Transport::Grpc => grpc::start(nagle, tls.as_ref(), counters.clone())?,
                }
            };
            receivers.push(Receiver {
                transport,
                nagle,
                addr,
                tls: tls.is_some(),
                counters,
            });
        }
        Ok(Self {
            runtime: Some(runtime),
            receivers,
            tls,
        })
    }

    /// The receivers, in the order of the specs.
    pub fn list(&self) -> &[Receiver] {
        &self.receivers
    }

    /// The receiver for `transport` with `nagle`, if one was started.
    pub fn find(&self, transport: Transport, nagle: bool) -> Option<&Receiver> {
        self.receivers
            .iter()
            .find(|r| r.transport == transport && r.nagle == nagle)
    }

    /// A receiver for `transport`: the one with `TCP_NODELAY` if it was
    /// started, else the other.
    pub fn for_transport(&self, transport: Transport) -> Option<&Receiver> {
        self.find(transport, false)
            .or_else(|| self.receivers.iter().find(|r| r.transport == transport))
    }

    /// The CA file clients must trust, when the receivers speak TLS.
    pub fn ca_pem(&self) -> Option<&std::path::Path> {
        self.tls.as_ref().map(|t| t.ca_pem.as_path())
    }
}

impl Drop for Receivers {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(feature = "secure")]
fn new_tls(dir: &std::path::Path) -> Result<TlsFiles, String> {
    tls::generate(dir)
}

#[cfg(not(feature = "secure"))]
fn new_tls(_dir: &std::path::Path) -> Result<TlsFiles, String> {
    Err("TLS needs the `secure` feature of xray-bench (throughput.sh adds it for --tls)".into())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};

    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use prost::Message;

    /// A request of `spans` minimal spans in one resource and scope.
    pub(crate) fn request(spans: usize) -> Vec<u8> {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![
                        Span {
                            name: "s".to_owned(),
                            trace_id: vec![1; 16],
                            span_id: vec![2; 8],
                            ..Span::default()
                        };
                        spans
                    ],
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        }
        .encode_to_vec()
    }

    pub(crate) fn gzip(body: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(body).unwrap();
        encoder.finish().unwrap()
    }

    /// Waits until the receiver counted `spans`, at most 5 s.
    pub(crate) fn wait_for(receiver: &Receiver, spans: u64) -> Counts {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let counts = receiver.counts();
            if counts.spans >= spans || Instant::now() > deadline {
                return counts;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// One HTTP/1.1 request on a fresh connection; the status code.
    fn post(receiver: &Receiver, path: &str, headers: &str, body: &[u8]) -> u16 {
        let mut stream = std::net::TcpStream::connect(receiver.addr()).unwrap();
        write!(
            stream,
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\n\
             {headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .unwrap();
        stream.write_all(body).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0)
    }

    #[test]
    fn gzip_bodies_are_inflated() {
        let body = request(3);
        assert_eq!(gunzip(&gzip(&body)).unwrap(), body);
        assert!(gunzip(b"not gzip").is_err());
    }

    #[test]
    fn the_http_receiver_counts_spans_of_plain_and_gzip_bodies() {
        let receivers = Receivers::start(&[(Transport::Http, true)], None).unwrap();
        let receiver = &receivers.list()[0];
        assert!(receiver.endpoint().ends_with("/v1/traces"));
        assert_eq!(post(receiver, TRACES_PATH, "", &request(5)), 200);
        let zipped = gzip(&request(7));
        assert_eq!(
            post(
                receiver,
                TRACES_PATH,
                "Content-Encoding: gzip\r\nAuthorization: AWS4-HMAC-SHA256 Credential=x\r\n",
                &zipped
            ),
            200
        );
        let counts = wait_for(receiver, 12);
        assert_eq!(counts.spans, 12);
        assert_eq!(counts.requests, 2);
        assert_eq!(counts.gzip, 1);
        assert_eq!(counts.signed, 1);
        assert_eq!(counts.wire_bytes, (request(5).len() + zipped.len()) as u64);
        assert_eq!(
            counts.body_bytes,
            (request(5).len() + request(7).len()) as u64
        );
        // Wrong path, and a body that is not a request.
        assert_eq!(post(receiver, "/v1/logs", "", &request(1)), 404);
        assert_eq!(post(receiver, TRACES_PATH, "", &[0x0b]), 400);
        assert_eq!(receiver.counts().rejected, 2);
        assert_eq!(receiver.counts().spans, 12);
    }
}
