//! OTLP over gRPC: a unary call to the signal's `Export` (`TraceService/Export`,
//! ...), made by hand on
//! tonic's channel (which keeps the HTTP/2 connection, reconnects, speaks
//! TLS). The request arrives as one gRPC message already framed, and
//! compressed when it should be, on the export thread: this thread only
//! sends it and reads the answer.

use std::future::poll_fn;
use std::io::Read;
use std::time::Duration;

use bytes::Bytes;
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use http_body_util::{BodyExt, Full};
use tonic::Code;
use tonic::transport::{Channel, Endpoint};
use tower_service::Service;

use super::client::{Attempt, accepted, describe};
use super::quick_ack::QuickAckConnector;
use super::{Compression, OtlpSettings};

/// The prefix of a gRPC message: whether it is compressed, and its length.
pub(crate) const PREFIX: usize = 5;

const GRPC_STATUS: &str = "grpc-status";
const GRPC_MESSAGE: &str = "grpc-message";
const GRPC_ENCODING: &str = "grpc-encoding";

pub(crate) struct GrpcClient {
    channel: Channel,
    /// The request's path: the endpoint's, then the method's.
    path: PathAndQuery,
    /// gRPC's headers and the user's (`OTEL_EXPORTER_OTLP_HEADERS`).
    headers: HeaderMap,
}

impl GrpcClient {
    /// A client whose connection opens on first use, or on [`connect`](Self::connect).
    /// Must be called inside the lane's runtime.
    pub(crate) fn new(
        settings: &OtlpSettings,
        #[cfg(feature = "tls")] trust: Option<&super::tls::Trust>,
    ) -> Result<Self, String> {
        let endpoint = Endpoint::from_shared(settings.endpoint.clone())
            .map_err(|e| format!("invalid OTLP endpoint {:?}: {e}", settings.endpoint))?
            .connect_timeout(settings.timeout)
            .timeout(settings.timeout)
            .tcp_nodelay(true);
        #[cfg(feature = "tls")]
        let endpoint = match trust {
            Some(trust) => {
                let mut tls =
                    tonic::transport::ClientTlsConfig::new().trust_anchors(trust.anchors());
                if let Some(identity) = &trust.identity {
                    tls = tls.identity(tonic::transport::Identity::from_pem(
                        &identity.certificate_pem,
                        &identity.key_pem,
                    ));
                }
                endpoint
                    .tls_config(tls)
                    .map_err(|e| format!("cannot set up TLS: {e}"))?
            }
            None => endpoint,
        };
        #[cfg(not(feature = "tls"))]
        if settings.endpoint.starts_with("https://") {
            return Err(format!(
                "the OTLP endpoint {} needs TLS: build xray-runtime with its tls feature",
                settings.endpoint
            ));
        }
        let prefix = endpoint.uri().path().trim_end_matches('/');
        let path = PathAndQuery::try_from(format!("{prefix}{}", settings.signal.grpc_method()))
            .map_err(|e| format!("invalid OTLP endpoint {:?}: {e}", settings.endpoint))?;
        let mut headers = HeaderMap::new();
        for (name, value) in &settings.headers {
            let name = HeaderName::try_from(name.to_ascii_lowercase())
                .map_err(|e| format!("invalid OTLP header name {name:?}: {e}"))?;
            let value = HeaderValue::try_from(value.as_str())
                .map_err(|e| format!("invalid value for OTLP header {name}: {e}"))?;
            headers.insert(name, value);
        }
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
        if settings.compression == Compression::Gzip {
            headers.insert(GRPC_ENCODING, HeaderValue::from_static("gzip"));
        }
        let connector = QuickAckConnector::new(settings.timeout);
        Ok(Self {
            channel: endpoint.connect_with_connector_lazy(connector),
            path,
            headers,
        })
    }

    /// Opens the connection now, so the first export does not wait for it.
    pub(crate) fn connect(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut channel = self.channel.clone();
        async move {
            let _ = poll_fn(|cx| channel.poll_ready(cx)).await;
        }
    }

    /// Sends one framed message ([`frame`]).
    pub(crate) async fn send(&self, message: Bytes) -> Attempt {
        let mut channel = self.channel.clone();
        if let Err(err) = poll_fn(|cx| channel.poll_ready(cx)).await {
            return Attempt::Retry {
                reason: format!("cannot connect: {}", describe(&err)),
                after: None,
            };
        }
        let mut request = http::Request::new(tonic::body::Body::new(Full::new(message)));
        *request.method_mut() = http::Method::POST;
        *request.version_mut() = http::Version::HTTP_2;
        *request.headers_mut() = self.headers.clone();
        // The channel puts the endpoint's scheme and authority before it.
        *request.uri_mut() = http::Uri::from(self.path.clone());
        let response = match channel.call(request).await {
            Ok(response) => response,
            Err(err) => {
                return Attempt::Retry {
                    reason: describe(&err),
                    after: None,
                };
            }
        };
        let (parts, body) = response.into_parts();
        // A "trailers-only" answer (an error, usually) has no body.
        if let Some(status) = grpc_status(&parts.headers) {
            return answer(status, &parts.headers, &[]);
        }
        let body = match body.collect().await {
            Ok(body) => body,
            Err(err) => {
                return Attempt::Retry {
                    reason: format!("the answer was cut short: {}", describe(&err)),
                    after: None,
                };
            }
        };
        let status = body
            .trailers()
            .and_then(grpc_status)
            .unwrap_or_else(|| GrpcStatus::from_http(parts.status));
        answer(status, &parts.headers, &body.to_bytes())
    }
}

/// Writes the gRPC prefix before the message at `buf[start..]` (`start` is
/// at least [`PREFIX`]); the request body is the prefix and the message.
pub(crate) fn frame(buf: Vec<u8>, start: usize, compressed: bool) -> Result<Bytes, String> {
    let len = u32::try_from(buf.len() - start)
        .map_err(|_| format!("the request is too large ({} bytes)", buf.len() - start))?;
    let mut buf = buf;
    let at = start - PREFIX;
    buf[at] = u8::from(compressed);
    buf[at + 1..start].copy_from_slice(&len.to_be_bytes());
    Ok(Bytes::from(buf).slice(at..))
}

/// A call's status: its code, and the server's message.
#[derive(Debug)]
struct GrpcStatus {
    code: Code,
    message: String,
}

impl GrpcStatus {
    /// What an answer without `grpc-status` means, from its HTTP status
    /// (gRPC's "HTTP to gRPC status code mapping").
    fn from_http(status: StatusCode) -> Self {
        let code = match status.as_u16() {
            200 => Code::Unknown,
            400 => Code::Internal,
            401 => Code::Unauthenticated,
            403 => Code::PermissionDenied,
            404 => Code::Unimplemented,
            429 | 502 | 503 | 504 => Code::Unavailable,
            _ => Code::Unknown,
        };
        Self {
            code,
            message: format!("HTTP {status} without a gRPC status"),
        }
    }
}

/// `grpc-status` and `grpc-message` from headers or trailers.
fn grpc_status(headers: &HeaderMap) -> Option<GrpcStatus> {
    let code = Code::from_bytes(headers.get(GRPC_STATUS)?.as_bytes());
    let message = headers
        .get(GRPC_MESSAGE)
        .map(|value| percent_decoded(value.as_bytes()))
        .unwrap_or_default();
    Some(GrpcStatus { code, message })
}

/// `grpc-message` is percent-encoded UTF-8.
fn percent_decoded(value: &[u8]) -> String {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        let hex = |at: usize| {
            value
                .get(at)
                .and_then(|&b| (b as char).to_digit(16))
                .map(|d| d as u8)
        };
        match (value[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(high), Some(low)) => {
                out.push(high << 4 | low);
                i += 3;
            }
            (byte, ..) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What the call's status and answer say.
fn answer(status: GrpcStatus, headers: &HeaderMap, body: &[u8]) -> Attempt {
    if status.code != Code::Ok {
        return failure(&status);
    }
    accepted(response_message(headers, body).as_deref())
}

/// The answer's message, without its prefix (decompressed if the server
/// compressed it); `None` if it cannot be read, which only costs the
/// count of spans the receiver may have rejected.
fn response_message(headers: &HeaderMap, body: &[u8]) -> Option<Vec<u8>> {
    let (prefix, rest) = body.split_at_checked(PREFIX)?;
    let len = u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]) as usize;
    let message = rest.get(..len)?;
    if prefix[0] == 0 {
        return Some(message.to_vec());
    }
    let gzip = headers
        .get(GRPC_ENCODING)
        .is_some_and(|encoding| encoding.as_bytes() == b"gzip");
    if !gzip {
        return None;
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(message)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

/// The gRPC codes OTLP calls retryable.
fn failure(status: &GrpcStatus) -> Attempt {
    let reason = format!("gRPC {:?}: {}", status.code, status.message);
    match status.code {
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::ResourceExhausted
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable
        | Code::DataLoss => Attempt::Retry {
            reason,
            after: None::<Duration>,
        },
        _ => Attempt::Failed(reason),
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
    use prost::Message;

    use super::*;

    #[test]
    fn messages_are_framed_in_place() {
        let mut buf = vec![0; 8];
        buf.extend_from_slice(b"message");
        let body = frame(buf, 8, true).expect("framed");
        assert_eq!(&body[..], b"\x01\x00\x00\x00\x07message");
    }

    #[test]
    fn statuses_from_headers_and_http() {
        let mut headers = HeaderMap::new();
        headers.insert(GRPC_STATUS, HeaderValue::from_static("14"));
        headers.insert(
            GRPC_MESSAGE,
            HeaderValue::from_static("no%20room%3A%20try%20later%zz"),
        );
        let status = grpc_status(&headers).expect("a status");
        assert_eq!(status.code, Code::Unavailable);
        assert_eq!(status.message, "no room: try later%zz");
        assert!(matches!(failure(&status), Attempt::Retry { .. }));
        assert_eq!(
            GrpcStatus::from_http(StatusCode::SERVICE_UNAVAILABLE).code,
            Code::Unavailable
        );
        assert_eq!(
            GrpcStatus::from_http(StatusCode::NOT_FOUND).code,
            Code::Unimplemented
        );
        headers.insert(GRPC_STATUS, HeaderValue::from_static("3"));
        assert!(matches!(
            failure(&grpc_status(&headers).expect("a status")),
            Attempt::Failed(_)
        ));
    }

    #[test]
    fn answers_with_rejected_spans_in_any_framing() {
        let response = ExportTraceServiceResponse {
            partial_success: Some(
                opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess {
                    rejected_spans: 3,
                    error_message: "too old".into(),
                },
            ),
        }
        .encode_to_vec();
        let ok = GrpcStatus {
            code: Code::Ok,
            message: String::new(),
        };
        let mut plain = vec![0, 0, 0, 0, response.len() as u8];
        plain.extend_from_slice(&response);
        let rejected = |attempt| matches!(attempt, Attempt::Accepted { rejected: 3, .. });
        assert!(rejected(answer(ok, &HeaderMap::new(), &plain)));

        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gzip, &response).expect("compressed");
        let compressed = gzip.finish().expect("compressed");
        let mut framed = vec![1];
        framed.extend_from_slice(&(compressed.len() as u32).to_be_bytes());
        framed.extend_from_slice(&compressed);
        let mut headers = HeaderMap::new();
        headers.insert(GRPC_ENCODING, HeaderValue::from_static("gzip"));
        let ok = || GrpcStatus {
            code: Code::Ok,
            message: String::new(),
        };
        assert!(rejected(answer(ok(), &headers, &framed)));
        // Unreadable answers count as accepted whole.
        for body in [&b""[..], b"\x00\x00\x00\x00\x09short", &framed] {
            assert!(matches!(
                answer(ok(), &HeaderMap::new(), body),
                Attempt::Accepted { rejected: 0, .. }
            ));
        }
    }
}
