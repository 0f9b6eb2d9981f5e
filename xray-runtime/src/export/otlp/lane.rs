//! The OTLP exporter as the export thread drives it: each batch is encoded
//! on the export thread, then sent on a runtime of its own, several at once;
//! a request the receiver asks to retry (or that meets a transient network
//! error) is sent again with backoff, until the export timeout.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use opentelemetry::InstrumentationScope;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_sdk::Resource;
use prost::Message;
use tokio::runtime::Runtime;

use super::encode::Encoder;
use super::{Compression, OtlpSettings, Protocol};
use crate::export::lane::{Batch, CatchPanic, Completions, Lane, Outcome};
use crate::span::stack::suppress_this_thread;

/// Requests in flight at once: a slow answer does not stop the others.
const MAX_IN_FLIGHT: usize = 4;
/// The first wait before a retry; it doubles each time.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// How much longer than its timeout a request may run before the export
/// thread stops waiting for it (its runtime thread is blocked).
const STALL_MARGIN: Duration = Duration::from_secs(1);
/// The longest wait before a retry, whatever the receiver asks.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What one attempt at sending a request got.
pub(super) enum Attempt {
    /// The receiver took the request; it may have rejected some spans.
    Accepted { rejected: u64, message: String },
    /// A transient failure: try again, after the receiver's delay if it gave one.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// A failure that trying again would not fix.
    Failed(String),
}

/// A success answer: how many spans the receiver rejected, if its
/// `ExportTraceServiceResponse` says (one that cannot be read counts as
/// accepting them all).
pub(super) fn accepted(response: Option<&[u8]>) -> Attempt {
    let partial = response
        .and_then(|body| ExportTraceServiceResponse::decode(body).ok())
        .and_then(|response| response.partial_success);
    match partial {
        Some(partial) if partial.rejected_spans > 0 => Attempt::Accepted {
            rejected: partial.rejected_spans as u64,
            message: partial.error_message,
        },
        _ => Attempt::Accepted {
            rejected: 0,
            message: String::new(),
        },
    }
}

/// An error, with its causes (the clients' own messages are terse).
pub(super) fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The two transports.
pub(super) enum Transport {
    #[cfg(feature = "otlp-http")]
    Http(Box<super::http::HttpClient>),
    #[cfg(feature = "otlp-grpc")]
    Grpc(super::grpc::GrpcClient),
}

impl Transport {
    /// Room to leave before the encoded request, for the transport's prefix.
    fn room(&self) -> usize {
        match self {
            #[cfg(feature = "otlp-http")]
            Self::Http(_) => 0,
            #[cfg(feature = "otlp-grpc")]
            Self::Grpc(_) => super::grpc::PREFIX,
        }
    }

    /// The body of a request whose (compressed, or not) message is
    /// `buf[start..]`, with at least [`room`](Self::room) bytes before it.
    fn body(&self, buf: Vec<u8>, start: usize, compressed: bool) -> Result<Bytes, String> {
        match self {
            #[cfg(feature = "otlp-http")]
            Self::Http(_) => {
                let _ = compressed;
                Ok(Bytes::from(buf).slice(start..))
            }
            #[cfg(feature = "otlp-grpc")]
            Self::Grpc(_) => super::grpc::frame(buf, start, compressed),
        }
    }

    async fn send(&self, body: Bytes) -> Attempt {
        match self {
            #[cfg(feature = "otlp-http")]
            Self::Http(client) => client.send(body).await,
            #[cfg(feature = "otlp-grpc")]
            Self::Grpc(client) => client.send(body).await,
        }
    }
}

/// The OTLP exporter's lane.
pub(crate) struct OtlpLane {
    name: &'static str,
    runtime: Runtime,
    transport: Arc<Transport>,
    encoder: Encoder,
    /// Where requests are encoded before they are compressed.
    scratch: Vec<u8>,
    /// Compress requests (here, on the export thread: the I/O thread only
    /// sends them).
    gzip: bool,
    timeout: Duration,
    completions: Completions,
}

impl OtlpLane {
    /// Starts the lane's runtime and client; for gRPC, the connection is
    /// opened at once, off the caller's thread, so the first export does
    /// not pay for it.
    pub(crate) fn start(
        settings: OtlpSettings,
        resource: &Resource,
        scope: &InstrumentationScope,
        completions: Completions,
    ) -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("xray-export-io")
            .on_thread_start(suppress_this_thread)
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the exporter's runtime: {e}"))?;
        #[cfg(all(feature = "aws", feature = "otlp-http"))]
        let mut settings = settings;
        #[cfg(all(feature = "aws", feature = "otlp-http"))]
        let signer = super::aws::signer(&mut settings, &runtime)?;
        #[cfg(not(all(feature = "aws", feature = "otlp-http")))]
        if settings.signing.is_some() {
            return Err(
                "signing requests with SigV4 needs the aws and otlp-http features of xray-runtime"
                    .into(),
            );
        }
        #[cfg(feature = "tls")]
        let trust = settings
            .endpoint
            .starts_with("https://")
            .then(|| Arc::new(super::tls::Trust::load(&settings.tls)));
        let (name, transport) = match settings.protocol {
            #[cfg(feature = "otlp-http")]
            Protocol::HttpProtobuf => {
                let security = super::http::Security {
                    #[cfg(feature = "tls")]
                    trust,
                    #[cfg(feature = "aws")]
                    signer,
                };
                let _enter = runtime.enter();
                let client = super::http::HttpClient::new(&settings, security)?;
                ("OTLP/HTTP", Transport::Http(Box::new(client)))
            }
            #[cfg(feature = "otlp-grpc")]
            Protocol::Grpc => {
                let _enter = runtime.enter();
                let client = super::grpc::GrpcClient::new(
                    &settings,
                    #[cfg(feature = "tls")]
                    trust.as_deref(),
                )?;
                runtime.spawn(client.connect());
                ("OTLP/gRPC", Transport::Grpc(client))
            }
            #[allow(unreachable_patterns)]
            other => {
                return Err(format!(
                    "OTLP over {} needs the otlp-{} feature of xray-runtime",
                    other.name(),
                    if other == Protocol::Grpc {
                        "grpc"
                    } else {
                        "http"
                    }
                ));
            }
        };
        Ok(Self {
            name,
            runtime,
            gzip: settings.compression == Compression::Gzip,
            transport: Arc::new(transport),
            encoder: Encoder::new(resource, scope),
            scratch: Vec::new(),
            timeout: settings.timeout,
            completions,
        })
    }

    /// The request body of `batch`.
    fn body(&mut self, batch: Batch) -> Result<Bytes, String> {
        let room = self.transport.room();
        if !self.gzip {
            let encoded = self.encoder.encode(batch, room);
            return self.transport.body(encoded.buf, encoded.start, false);
        }
        // The uncompressed request is only read once: its buffer is kept.
        let start = self.encoder.encode_into(batch, &mut self.scratch, 0);
        let encoded = &self.scratch[start..];
        let mut out = Vec::with_capacity(room + encoded.len() / 4);
        out.resize(room, 0);
        // gzip's fastest level, for either protocol: the export thread
        // keeps up with the spans at a fraction of the default level's time.
        let mut gzip = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
        let compressed = gzip
            .write_all(encoded)
            .and_then(|()| gzip.finish())
            .map_err(|e| format!("cannot compress the request: {e}"))?;
        self.transport.body(compressed, room, true)
    }
}

impl Lane for OtlpLane {
    fn name(&self) -> &str {
        self.name
    }

    fn max_in_flight(&self) -> usize {
        MAX_IN_FLIGHT
    }

    fn stall_after(&self) -> Duration {
        // Each request gives up on its own at the export timeout.
        self.timeout + STALL_MARGIN
    }

    fn submit(&mut self, batch: Batch) {
        let (seq, spans) = (batch.seq, batch.len() as u64);
        let body = match self.body(batch) {
            Ok(body) => body,
            Err(reason) => {
                self.completions.report(seq, spans, Outcome::Failed(reason));
                return;
            }
        };
        let transport = self.transport.clone();
        let completions = self.completions.clone();
        let timeout = self.timeout;
        self.runtime.spawn(async move {
            let sent = CatchPanic(Box::pin(send(&transport, body, timeout))).await;
            let outcome = sent.unwrap_or_else(Outcome::Panicked);
            completions.report(seq, spans, outcome);
        });
    }

    fn shutdown(self: Box<Self>, _timeout: Duration) {
        // The export thread waited for the requests in flight already; what
        // is left is abandoned without blocking (safe inside async code).
        self.runtime.shutdown_background();
    }
}

/// Sends `body`, again after a transient failure, until `timeout`.
async fn send(transport: &Transport, body: Bytes, timeout: Duration) -> Outcome {
    let deadline = Instant::now() + timeout;
    let mut backoff = FIRST_BACKOFF;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let attempt = match tokio::time::timeout(remaining, transport.send(body.clone())).await {
            Ok(attempt) => attempt,
            Err(_) => {
                return Outcome::Failed(format!(
                    "no answer within the export timeout ({} ms)",
                    timeout.as_millis()
                ));
            }
        };
        match attempt {
            Attempt::Accepted { rejected: 0, .. } => return Outcome::Exported,
            Attempt::Accepted { rejected, message } => {
                return Outcome::Rejected {
                    spans: rejected,
                    message,
                };
            }
            Attempt::Failed(reason) => return Outcome::Failed(reason),
            Attempt::Retry { reason, after } => {
                let wait = after.unwrap_or(backoff).min(MAX_BACKOFF);
                if Instant::now() + wait >= deadline {
                    return Outcome::Failed(reason);
                }
                tokio::time::sleep(wait).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}
