//! What the export thread hands an exporter, and how the exporter answers.
//!
//! Each exporter is a [`Lane`]: the export thread submits [`Batch`]es to it,
//! never more than its `max_in_flight` at once, and the lane reports each
//! batch's [`Done`] through its [`Completions`], from whatever thread did the
//! work. A lane never blocks the export thread: exporting happens on the
//! lane's own thread or runtime.

use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::task::{Context, Poll};
use std::time::Duration;

use opentelemetry_sdk::trace::SpanData;

use crate::clock::Converter;
use crate::record::Finished;

/// Spans cut from the export queue together, in the order they ended.
pub(crate) struct Batch {
    /// Numbers batches in the order they were cut.
    pub seq: u64,
    /// Spans of the span path.
    pub spans: Vec<Finished>,
    /// Spans made through the OpenTelemetry API.
    pub sdk_spans: Vec<SpanData>,
    /// Converts the spans' clock ticks to wall-clock time.
    pub converter: Converter,
}

impl Batch {
    pub(crate) fn len(&self) -> usize {
        self.spans.len() + self.sdk_spans.len()
    }

    /// A copy for a second exporter.
    pub(crate) fn duplicate(&self) -> Self {
        Self {
            seq: self.seq,
            spans: self.spans.clone(),
            sdk_spans: self.sdk_spans.clone(),
            converter: self.converter,
        }
    }
}

/// How a batch ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Every span was accepted.
    Exported,
    /// The receiver accepted the batch but rejected this many of its spans.
    #[cfg_attr(
        not(any(feature = "otlp-grpc", feature = "otlp-http")),
        allow(dead_code)
    )]
    Rejected { spans: u64, message: String },
    /// The export failed; no span was delivered.
    Failed(String),
    /// The exporter panicked; no span was delivered.
    Panicked(String),
}

/// A batch's end, as a lane reports it.
#[derive(Debug)]
pub(crate) struct Done {
    pub lane: usize,
    pub seq: u64,
    pub spans: u64,
    pub outcome: Outcome,
}

/// Where a lane reports finished batches: the export thread's channel, and
/// a way to wake it.
#[derive(Clone)]
pub(crate) struct Completions {
    lane: usize,
    sender: Sender<Done>,
    wake: Arc<dyn Fn() + Send + Sync>,
}

impl fmt::Debug for Completions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Completions")
            .field("lane", &self.lane)
            .finish()
    }
}

impl Completions {
    pub(crate) fn new(
        lane: usize,
        sender: Sender<Done>,
        wake: Arc<dyn Fn() + Send + Sync>,
    ) -> Self {
        Self { lane, sender, wake }
    }

    /// Reports that batch `seq` of `spans` spans ended with `outcome`.
    pub(crate) fn report(&self, seq: u64, spans: u64, outcome: Outcome) {
        // The export thread may be gone (shut down): nobody is waiting then.
        let _ = self.sender.send(Done {
            lane: self.lane,
            seq,
            spans,
            outcome,
        });
        (self.wake)();
    }
}

/// An exporter as the export thread drives it.
pub(crate) trait Lane: Send {
    /// The name used in messages (`OTLP/HTTP`, `console`, ...).
    fn name(&self) -> &str;

    /// The most batches it may work on at once.
    fn max_in_flight(&self) -> usize;

    /// How long it may hold a batch before the export thread stops waiting
    /// for it (its next batches are then dropped until it reports again).
    fn stall_after(&self) -> Duration;

    /// Takes a batch; its end is reported through the lane's completions.
    fn submit(&mut self, batch: Batch);

    /// Stops, giving the exporter at most `timeout` to finish; never blocks
    /// longer than that.
    fn shutdown(self: Box<Self>, timeout: Duration);
}

/// The message of a panic's payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic payload".to_string())
}

/// A future whose panics become `Err(message)`: an exporter that panics
/// loses its batch, not the export path.
#[cfg_attr(
    not(any(feature = "otlp-grpc", feature = "otlp-http")),
    allow(dead_code)
)]
pub(crate) struct CatchPanic<F>(pub Pin<Box<F>>);

impl<F: Future> Future for CatchPanic<F> {
    type Output = Result<F::Output, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let future = self.0.as_mut();
        match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(panic_message(payload.as_ref()))),
        }
    }
}
