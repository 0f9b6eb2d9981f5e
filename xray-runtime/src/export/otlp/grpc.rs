//! OTLP over gRPC: the request, already encoded, sent as the body of a
//! unary call to the signal's `Export` (`TraceService/Export`, ...).

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use http::uri::PathAndQuery;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use super::client::Attempt;
use super::{Compression, OtlpSettings};

pub(crate) struct GrpcClient {
    channel: Channel,
    /// The signal's `Export` method.
    method: &'static str,
    metadata: MetadataMap,
    gzip: bool,
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
        let mut metadata = MetadataMap::new();
        for (name, value) in &settings.headers {
            let key = MetadataKey::from_bytes(name.to_ascii_lowercase().as_bytes())
                .map_err(|e| format!("invalid OTLP header name {name:?}: {e}"))?;
            let value = MetadataValue::try_from(value.as_str())
                .map_err(|e| format!("invalid value for OTLP header {name}: {e}"))?;
            metadata.insert(key, value);
        }
        Ok(Self {
            channel: endpoint.connect_lazy(),
            method: settings.signal.grpc_method(),
            metadata,
            gzip: settings.compression == Compression::Gzip,
        })
    }

    /// Opens the connection now, so the first export does not wait for it.
    pub(crate) fn connect(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        async move {
            let _ = grpc.ready().await;
        }
    }

    pub(crate) async fn send(&self, body: Bytes) -> Attempt {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        if self.gzip {
            grpc = grpc.send_compressed(tonic::codec::CompressionEncoding::Gzip);
        }
        if let Err(err) = grpc.ready().await {
            return Attempt::Retry {
                reason: format!("cannot connect: {err}"),
                after: None,
            };
        }
        let mut request = tonic::Request::new(body);
        *request.metadata_mut() = self.metadata.clone();
        let answer = grpc
            .unary(request, PathAndQuery::from_static(self.method), RawCodec)
            .await;
        match answer {
            Ok(response) => accepted(response.get_ref()),
            Err(status) => failure(&status),
        }
    }
}

/// A success answer: how many items the receiver rejected, if it says. The
/// three signals' answers share one layout (a partial success of a count
/// and a message), so the traces' type reads them all.
fn accepted(body: &[u8]) -> Attempt {
    let partial = ExportTraceServiceResponse::decode(body)
        .ok()
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

/// The gRPC codes OTLP calls retryable.
fn failure(status: &Status) -> Attempt {
    let reason = format!("gRPC {:?}: {}", status.code(), status.message());
    match status.code() {
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

/// Sends bytes as they are, and receives the answer's bytes.
#[derive(Clone, Copy, Debug, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}
