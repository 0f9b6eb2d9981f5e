//! OTLP for the log and metric pipelines: one exporter for either, given
//! how a batch is encoded, sending with the signal's [`OtlpClient`].

use std::time::Instant;

use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_sdk::Resource;

use super::deliver::Exporter;
use crate::export::lane::Outcome;
use crate::export::otlp::{OtlpClient, OtlpSettings};

/// How a signal's batch becomes an OTLP request body (not yet compressed).
pub(crate) trait Encode<B: ?Sized>: Send {
    fn encode(&self, batch: &B) -> Vec<u8>;
}

/// A signal's OTLP exporter.
pub(crate) struct OtlpExporter<E> {
    client: OtlpClient,
    encoder: E,
}

impl<E> OtlpExporter<E> {
    /// Starts the client of `settings` (see [`OtlpClient::start`]).
    pub(crate) fn start(settings: OtlpSettings, encoder: E) -> Result<Self, String> {
        Ok(Self {
            client: OtlpClient::start(settings)?,
            encoder,
        })
    }
}

impl<B: ?Sized, E: Encode<B>> Exporter<B> for OtlpExporter<E> {
    fn name(&self) -> &str {
        self.client.name()
    }

    fn export(&mut self, batch: &B, deadline: Instant) -> Outcome {
        match self.client.body(self.encoder.encode(batch)) {
            Ok(body) => self.client.send_blocking(body, deadline),
            Err(reason) => Outcome::Failed(reason),
        }
    }

    fn shutdown(self: Box<Self>) {
        self.client.shutdown();
    }
}

/// A resource as OTLP, and its schema URL.
pub(crate) fn proto_resource(resource: &Resource) -> (ProtoResource, String) {
    let attributes = ResourceAttributesWithSchema::from(resource);
    (
        ProtoResource {
            attributes: attributes.attributes.0,
            ..ProtoResource::default()
        },
        attributes.schema_url.unwrap_or_default(),
    )
}
