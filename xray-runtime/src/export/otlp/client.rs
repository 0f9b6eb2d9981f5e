//! An OTLP connection for one signal: a runtime of its own, the transport
//! (HTTP or gRPC, with TLS and SigV4 where they apply), compression, and
//! sending with retries within the export timeout. The span lane and the
//! log and metric exporters each hold one.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use tokio::runtime::Runtime;

use super::{Compression, OtlpSettings, Protocol};
use crate::export::lane::{CatchPanic, Outcome};
use crate::span::stack::suppress_this_thread;

/// The first wait before a retry; it doubles each time.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait before a retry, whatever the receiver asks.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What one attempt at sending a request got.
pub(super) enum Attempt {
    /// The receiver took the request; it may have rejected some items.
    Accepted { rejected: u64, message: String },
    /// A transient failure: try again, after the receiver's delay if it gave one.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// A failure that trying again would not fix.
    Failed(String),
}

/// A success answer: how many items the receiver rejected, if it says
/// (one that cannot be read counts as accepting them all). The three
/// signals' answers share one layout (a partial success of a count and a
/// message), so the traces' type reads them all.
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
enum Transport {
    #[cfg(feature = "otlp-http")]
    Http(Box<super::http::HttpClient>),
    #[cfg(feature = "otlp-grpc")]
    Grpc(super::grpc::GrpcClient),
}

impl Transport {
    /// Room to leave before the encoded message, for the transport's prefix.
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

/// An OTLP client for one signal.
pub(crate) struct OtlpClient {
    name: &'static str,
    runtime: Runtime,
    transport: Arc<Transport>,
    /// Compress messages (here, on the caller's thread, for either
    /// protocol: the I/O thread only sends them).
    gzip: bool,
    timeout: Duration,
}

impl OtlpClient {
    /// Starts the client's runtime and transport; for gRPC, the connection
    /// is opened at once, off the caller's thread, so the first export
    /// does not pay for it.
    pub(crate) fn start(settings: OtlpSettings) -> Result<Self, String> {
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
            timeout: settings.timeout,
        })
    }

    /// `OTLP/HTTP` or `OTLP/gRPC`.
    pub(crate) fn name(&self) -> &'static str {
        self.name
    }

    /// How long one export, retries included, may take.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether messages are sent compressed (then [`compressed`](Self::compressed)
    /// makes their bodies).
    pub(crate) fn gzip(&self) -> bool {
        self.gzip
    }

    /// Room to leave before an encoded message, for the transport's prefix.
    pub(crate) fn room(&self) -> usize {
        self.transport.room()
    }

    /// The body of an uncompressed message encoded at `buf[start..]`, with
    /// at least [`room`](Self::room) bytes before it.
    pub(crate) fn framed(&self, buf: Vec<u8>, start: usize) -> Result<Bytes, String> {
        self.transport.body(buf, start, false)
    }

    /// The body of `message`, compressed with gzip's fastest level: the
    /// export thread keeps up with the spans at a fraction of the default
    /// level's time.
    pub(crate) fn compressed(&self, message: &[u8]) -> Result<Bytes, String> {
        let room = self.transport.room();
        let mut out = Vec::with_capacity(room + message.len() / 4);
        out.resize(room, 0);
        let mut gzip = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
        let compressed = gzip
            .write_all(message)
            .and_then(|()| gzip.finish())
            .map_err(|e| format!("cannot compress the request: {e}"))?;
        self.transport.body(compressed, room, true)
    }

    /// The body of a message encoded on its own (logs, metrics): framed,
    /// and compressed when it is sent so.
    pub(crate) fn body(&self, encoded: Vec<u8>) -> Result<Bytes, String> {
        if self.gzip {
            return self.compressed(&encoded);
        }
        let room = self.transport.room();
        if room == 0 {
            return self.framed(encoded, 0);
        }
        let mut buf = Vec::with_capacity(room + encoded.len());
        buf.resize(room, 0);
        buf.extend_from_slice(&encoded);
        self.framed(buf, room)
    }

    /// Sends `body` on the client's runtime; `done` receives the outcome,
    /// on that runtime's thread.
    pub(crate) fn spawn(&self, body: Bytes, done: impl FnOnce(Outcome) + Send + 'static) {
        let transport = self.transport.clone();
        let timeout = self.timeout;
        self.runtime.spawn(async move {
            let sent = CatchPanic(Box::pin(send(&transport, body, timeout))).await;
            done(sent.unwrap_or_else(Outcome::Panicked));
        });
    }

    /// Sends `body` and waits for the outcome, at most the export timeout
    /// and never past `deadline`. For threads outside any runtime.
    pub(crate) fn send_blocking(&self, body: Bytes, deadline: Instant) -> Outcome {
        let transport = self.transport.clone();
        let timeout = self
            .timeout
            .min(deadline.saturating_duration_since(Instant::now()));
        let sent = self
            .runtime
            .block_on(async move { CatchPanic(Box::pin(send(&transport, body, timeout))).await });
        sent.unwrap_or_else(Outcome::Panicked)
    }

    /// Stops: requests still in flight are abandoned without blocking (safe
    /// inside async code).
    pub(crate) fn shutdown(self) {
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
