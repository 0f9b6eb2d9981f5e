//! An OTLP connection for one signal: a runtime of its own, the transport
//! (HTTP or gRPC, with TLS and SigV4 where they apply), compression, and
//! sending with retries within the export timeout. The span lane and the
//! log and metric exporters each hold one.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
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

/// The two transports.
enum Transport {
    #[cfg(feature = "otlp-http")]
    Http(Box<super::http::HttpClient>),
    #[cfg(feature = "otlp-grpc")]
    Grpc(super::grpc::GrpcClient),
}

impl Transport {
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
    /// Compress bodies here (HTTP); gRPC compresses in its own framing.
    gzip_body: bool,
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
            gzip_body: settings.compression == Compression::Gzip
                && settings.protocol == Protocol::HttpProtobuf,
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

    /// The request body of an encoded message: compressed when it is sent so.
    pub(crate) fn body(&self, encoded: Vec<u8>) -> Result<Bytes, String> {
        if !self.gzip_body {
            return Ok(Bytes::from(encoded));
        }
        let mut gzip = flate2::write::GzEncoder::new(
            Vec::with_capacity(encoded.len() / 4),
            flate2::Compression::fast(),
        );
        gzip.write_all(&encoded)
            .and_then(|()| gzip.finish())
            .map(Bytes::from)
            .map_err(|e| format!("cannot compress the request: {e}"))
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
