//! Spans made through the OpenTelemetry API join the export thread's queue,
//! so that they leave through the same exporters, in the same batches.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanProcessor};

use crate::span::stack::is_suppressed;
use crate::stats::{self, Loss};

/// The queue of spans made through the OpenTelemetry API, and how many
/// were ever queued and taken.
#[derive(Debug, Default)]
pub(crate) struct SdkQueue {
    spans: Mutex<Queued>,
}

#[derive(Debug, Default)]
struct Queued {
    spans: VecDeque<SpanData>,
    pushed: u64,
    taken: u64,
}

impl SdkQueue {
    /// Moves up to `max` queued spans into `out`.
    pub(crate) fn drain_into(&self, out: &mut VecDeque<SpanData>, max: usize) {
        let mut queued = self.spans.lock().unwrap_or_else(|e| e.into_inner());
        let take = queued.spans.len().min(max);
        out.extend(queued.spans.drain(..take));
        queued.taken += take as u64;
    }

    /// Spans ever queued, and ever taken.
    pub(crate) fn positions(&self) -> (u64, u64) {
        let queued = self.spans.lock().unwrap_or_else(|e| e.into_inner());
        (queued.pushed, queued.taken)
    }
}

/// The `SpanProcessor` of the OpenTelemetry provider `init` installs.
pub(crate) struct Forward {
    pub(super) queue: Arc<SdkQueue>,
    pub(super) capacity: usize,
    pub(super) batch: usize,
    pub(super) wake: Arc<dyn Fn() + Send + Sync>,
}

impl std::fmt::Debug for Forward {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forward")
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl SpanProcessor for Forward {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &opentelemetry::Context) {}

    fn on_end(&self, span: SpanData) {
        // Spans of the export threads' own work (a traced HTTP client inside
        // an exporter) would feed themselves to the exporter.
        if is_suppressed() {
            return;
        }
        let mut queued = self.queue.spans.lock().unwrap_or_else(|e| e.into_inner());
        if queued.spans.len() >= self.capacity {
            drop(queued);
            stats::lose(Loss::QueueFull, 1);
            return;
        }
        queued.spans.push_back(span);
        queued.pushed += 1;
        let full = queued.spans.len() == self.batch;
        drop(queued);
        if full {
            (self.wake)();
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}
