//! The OTLP exporter as the export thread drives it: each batch is encoded
//! on the export thread, then sent by the signal's [`OtlpClient`], several
//! at once; a request the receiver asks to retry (or that meets a transient
//! network error) is sent again with backoff, until the export timeout.

use std::time::Duration;

use bytes::Bytes;
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::Resource;

use super::OtlpSettings;
use super::client::OtlpClient;
use super::encode::Encoder;
use crate::export::lane::{Batch, Completions, Lane, Outcome};

/// Requests in flight at once: a slow answer does not stop the others.
const MAX_IN_FLIGHT: usize = 4;
/// How much longer than its timeout a request may run before the export
/// thread stops waiting for it (its runtime thread is blocked).
const STALL_MARGIN: Duration = Duration::from_secs(1);

/// The OTLP exporter's lane.
pub(crate) struct OtlpLane {
    client: OtlpClient,
    encoder: Encoder,
    /// Where requests are encoded before they are compressed.
    scratch: Vec<u8>,
    completions: Completions,
}

impl OtlpLane {
    /// Starts the lane's client (see [`OtlpClient::start`]).
    pub(crate) fn start(
        settings: OtlpSettings,
        resource: &Resource,
        scope: &InstrumentationScope,
        completions: Completions,
    ) -> Result<Self, String> {
        Ok(Self {
            client: OtlpClient::start(settings)?,
            encoder: Encoder::new(resource, scope),
            scratch: Vec::new(),
            completions,
        })
    }

    /// The request body of `batch`, encoded (and compressed) here, on the
    /// export thread.
    fn body(&mut self, batch: Batch) -> Result<Bytes, String> {
        if !self.client.gzip() {
            let encoded = self.encoder.encode(batch, self.client.room());
            return self.client.framed(encoded.buf, encoded.start);
        }
        // The uncompressed request is only read once: its buffer is kept.
        let start = self.encoder.encode_into(batch, &mut self.scratch, 0);
        self.client.compressed(&self.scratch[start..])
    }
}

impl Lane for OtlpLane {
    fn name(&self) -> &str {
        self.client.name()
    }

    fn max_in_flight(&self) -> usize {
        MAX_IN_FLIGHT
    }

    fn stall_after(&self) -> Duration {
        // Each request gives up on its own at the export timeout.
        self.client.timeout() + STALL_MARGIN
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
        let completions = self.completions.clone();
        self.client
            .spawn(body, move |outcome| completions.report(seq, spans, outcome));
    }

    fn shutdown(self: Box<Self>, _timeout: Duration) {
        // The export thread waited for the requests in flight already; what
        // is left is abandoned without blocking (safe inside async code).
        self.client.shutdown();
    }
}
