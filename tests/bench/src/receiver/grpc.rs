//! The OTLP/gRPC receiver: a tonic server whose only method is
//! `TraceService/Export`, read as raw bytes (a pass-through codec) and
//! counted on the wire format; gzip-compressed messages accepted.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::{Buf, BufMut, Bytes};
use http_body_util::BodyExt;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::server::UnaryService;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Status, body::Body};

use super::{Accepted, Counters, TlsFiles, is_sigv4, wire};

const EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
/// Far above any batch the contenders send (tonic's default is 4 MiB).
const MAX_MESSAGE: usize = 64 << 20;

/// Binds a free port of 127.0.0.1 and serves it on the current runtime.
pub(super) fn start(
    nagle: bool,
    tls: Option<&TlsFiles>,
    counters: Arc<Counters>,
) -> Result<SocketAddr, String> {
    let incoming = TcpIncoming::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .map_err(|e| format!("OTLP/gRPC receiver: bind 127.0.0.1:0: {e}"))?
        // Nagle's algorithm stays on unless TCP_NODELAY is set.
        .with_nodelay(Some(!nagle));
    let addr = incoming.local_addr().map_err(|e| e.to_string())?;
    #[allow(unused_mut)]
    let mut server = Server::builder();
    #[cfg(feature = "secure")]
    if let Some(tls) = tls {
        server = server
            .tls_config(super::tls::grpc_config(tls))
            .map_err(|e| format!("OTLP/gRPC receiver: TLS: {e}"))?;
    }
    #[cfg(not(feature = "secure"))]
    if tls.is_some() {
        return Err("TLS needs the `secure` feature of xray-bench".into());
    }
    let service = ExportService { counters };
    tokio::spawn(async move {
        if let Err(err) = server.serve_with_incoming(service, incoming).await {
            eprintln!("OTLP/gRPC receiver on {addr} stopped: {err}");
        }
    });
    Ok(addr)
}

/// Routes `TraceService/Export` to [`Export`]; anything else is answered
/// `UNIMPLEMENTED`.
#[derive(Clone)]
struct ExportService {
    counters: Arc<Counters>,
}

type Answer = http::Response<Body>;

impl tower_service::Service<http::Request<Body>> for ExportService {
    type Response = Answer;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Answer, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let counters = self.counters.clone();
        Box::pin(async move {
            if request.uri().path() != EXPORT {
                counters.rejected();
                return Ok(Status::unimplemented("only TraceService/Export").into_http());
            }
            // The bytes of the HTTP/2 DATA frames: gRPC framing and the
            // message, compressed or not.
            let wire_bytes = Arc::new(AtomicUsize::new(0));
            let seen = wire_bytes.clone();
            let request = request.map(move |body| {
                body.map_frame(move |frame| {
                    if let Some(data) = frame.data_ref() {
                        seen.fetch_add(data.len(), Ordering::Relaxed);
                    }
                    frame
                })
            });
            let mut grpc = tonic::server::Grpc::new(BytesCodec)
                .accept_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(MAX_MESSAGE);
            let export = Export {
                counters,
                wire_bytes,
            };
            Ok(grpc.unary(export, request).await)
        })
    }
}

/// Counts one request's spans and answers an empty response.
struct Export {
    counters: Arc<Counters>,
    wire_bytes: Arc<AtomicUsize>,
}

impl UnaryService<Bytes> for Export {
    type Response = Bytes;
    type Future = std::future::Ready<Result<tonic::Response<Bytes>, Status>>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let gzip = request
            .metadata()
            .get("grpc-encoding")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
        let signed = is_sigv4(
            request
                .metadata()
                .get("authorization")
                .map(|v| v.as_bytes()),
        );
        let body = request.into_inner();
        let answer = match wire::count_spans(&body) {
            Ok(spans) => {
                self.counters.accepted(Accepted {
                    spans,
                    wire_bytes: self.wire_bytes.load(Ordering::Relaxed),
                    body_bytes: body.len(),
                    gzip,
                    signed,
                });
                // An empty ExportTraceServiceResponse: zero bytes.
                Ok(tonic::Response::new(Bytes::new()))
            }
            Err(err) => {
                self.counters.rejected();
                Err(Status::invalid_argument(format!(
                    "not an OTLP request: {err}"
                )))
            }
        };
        std::future::ready(answer)
    }
}

/// Messages as bytes, both ways.
#[derive(Clone, Copy, Debug, Default)]
struct BytesCodec;

impl Codec for BytesCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = Self;
    type Decoder = Self;

    fn encoder(&mut self) -> Self {
        Self
    }

    fn decoder(&mut self) -> Self {
        Self
    }
}

impl Encoder for BytesCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for BytesCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receiver::tests::{request, wait_for};
    use crate::receiver::{Receivers, Transport};
    use http::uri::PathAndQuery;

    #[test]
    fn the_grpc_receiver_counts_spans_of_plain_and_gzip_messages() {
        let receivers = Receivers::start(&[(Transport::Grpc, false)], None).unwrap();
        let receiver = &receivers.list()[0];
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let endpoint = receiver.endpoint();
        runtime.block_on(async move {
            let channel = tonic::transport::Endpoint::from_shared(endpoint)
                .unwrap()
                .connect()
                .await
                .unwrap();
            for (spans, gzip) in [(4, false), (9, true)] {
                let mut grpc = tonic::client::Grpc::new(channel.clone());
                if gzip {
                    grpc = grpc.send_compressed(CompressionEncoding::Gzip);
                }
                grpc.ready().await.unwrap();
                let answer = grpc
                    .unary(
                        tonic::Request::new(Bytes::from(request(spans))),
                        PathAndQuery::from_static(EXPORT),
                        BytesCodec,
                    )
                    .await
                    .unwrap();
                assert!(answer.get_ref().is_empty(), "an empty response");
            }
            let mut grpc = tonic::client::Grpc::new(channel);
            grpc.ready().await.unwrap();
            let status = grpc
                .unary(
                    tonic::Request::new(Bytes::from_static(&[0x0b])),
                    PathAndQuery::from_static(EXPORT),
                    BytesCodec,
                )
                .await
                .unwrap_err();
            assert_eq!(status.code(), tonic::Code::InvalidArgument);
        });
        let counts = wait_for(receiver, 13);
        assert_eq!(counts.spans, 13);
        assert_eq!(counts.requests, 2);
        assert_eq!(counts.gzip, 1);
        assert_eq!(counts.rejected, 1);
        assert_eq!(
            counts.body_bytes,
            (request(4).len() + request(9).len()) as u64
        );
        // gRPC framing: 5 bytes per message on top of the (compressed) body.
        assert!(counts.wire_bytes > 10, "{counts:?}");
    }
}
