//! The process-wide state the span path reads: whether tracing is on, which
//! installation is current, and the door to the running export pipeline.
//!
//! The provider writes it at `init` and shutdown; the span path only reads
//! it, with relaxed atomic loads, and reaches the pipeline through the
//! [`Pipeline`] trait so that it never depends on the export code.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::flush_error::FlushError;
use crate::record::Finished;
use crate::ring::Registry;

/// Fast check made by every instrumented call before anything else.
pub(crate) static ENABLED: AtomicBool = AtomicBool::new(false);

/// Which `init` installed the current provider: an old guard must not tear
/// down a newer installation, and spans of an old one are not exported by
/// the next.
static GENERATION: AtomicU32 = AtomicU32::new(0);

/// Set once the OpenTelemetry API has made a span through our tracer: from
/// then on, span starts also look at that API's current span.
static OTEL_API_USED: AtomicBool = AtomicBool::new(false);

/// How many finished spans each thread may queue for export.
static QUEUE_PER_THREAD: AtomicUsize = AtomicUsize::new(2048);

/// How long [`flush_active`] may wait.
static FLUSH_TIMEOUT_MS: AtomicU64 = AtomicU64::new(5000);

/// Every thread's ring of finished spans (shared by successive installations;
/// each record carries the installation it belongs to).
pub(crate) static RINGS: Registry<Finished> = Registry::new();

/// The running export pipeline, as the span path needs it.
pub(crate) trait Pipeline: Send + Sync {
    /// A ring is filling up: export soon.
    fn nudge(&self);
    /// Exports everything finished so far, waiting at most `wait`.
    fn flush(&self, wait: Duration) -> Result<(), FlushError>;
}

static PIPELINE: RwLock<Option<Arc<dyn Pipeline>>> = RwLock::new(None);

#[inline]
pub(crate) fn generation() -> u32 {
    GENERATION.load(Ordering::Relaxed)
}

/// Starts a new installation and returns its generation; tracing stays off
/// until [`enable`].
pub(crate) fn next_generation() -> u32 {
    ENABLED.store(false, Ordering::Release);
    GENERATION.fetch_add(1, Ordering::AcqRel).wrapping_add(1)
}

/// Whether `generation` is still the current installation.
pub(crate) fn is_current(generation: u32) -> bool {
    GENERATION.load(Ordering::Acquire) == generation
}

/// Turns tracing on with `pipeline` receiving the spans.
pub(crate) fn enable(
    pipeline: Arc<dyn Pipeline>,
    queue_per_thread: usize,
    flush_timeout: Duration,
) {
    QUEUE_PER_THREAD.store(queue_per_thread, Ordering::Relaxed);
    FLUSH_TIMEOUT_MS.store(flush_timeout.as_millis() as u64, Ordering::Relaxed);
    *PIPELINE.write().unwrap_or_else(|e| e.into_inner()) = Some(pipeline);
    ENABLED.store(true, Ordering::Release);
}

/// Turns tracing off and forgets the pipeline.
pub(crate) fn disable() {
    ENABLED.store(false, Ordering::Release);
    *PIPELINE.write().unwrap_or_else(|e| e.into_inner()) = None;
}

#[inline]
pub(crate) fn otel_api_used() -> bool {
    OTEL_API_USED.load(Ordering::Relaxed)
}

pub(crate) fn mark_otel_api_used() {
    if !OTEL_API_USED.load(Ordering::Relaxed) {
        OTEL_API_USED.store(true, Ordering::Relaxed);
    }
}

/// How many finished spans each thread may queue for export.
#[inline]
pub(crate) fn queue_per_thread() -> usize {
    QUEUE_PER_THREAD.load(Ordering::Relaxed)
}

/// Wakes the export thread because a ring is filling up.
pub(crate) fn nudge() {
    if let Some(pipeline) = PIPELINE.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        pipeline.nudge();
    }
}

/// Exports every span ended so far through the installed pipeline; `Ok`
/// when none is installed.
pub(crate) fn flush_active() -> Result<(), FlushError> {
    let pipeline = PIPELINE.read().unwrap_or_else(|e| e.into_inner()).clone();
    match pipeline {
        Some(pipeline) => {
            let wait = Duration::from_millis(FLUSH_TIMEOUT_MS.load(Ordering::Relaxed).max(100));
            pipeline.flush(wait)
        }
        None => Ok(()),
    }
}
