//! The export thread of one installation: it drains every thread's queue of
//! finished spans into a bounded buffer, cuts batches, and hands them to
//! the exporters' lanes, which export off this thread.
//!
//! Application threads never wait for it. It wakes when its schedule delay
//! passes, when a batch worth of spans is queued or the queues run out of
//! room, when an exporter finishes a batch it waits for, and on flush,
//! shutdown and hand-over requests. Every span it cannot deliver is counted (`stats`).
//!
//! * `worker`: the thread's loop;
//! * `forward`: spans made through the OpenTelemetry API, queued for it;
//! * `held`: traces adaptive sampling may still capture.

mod forward;
#[cfg(feature = "xray-sampler")]
mod held;
mod worker;

use std::sync::atomic::{AtomicBool, Ordering, fence};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::Resource;

use crate::export::BoxedExporter;
use crate::export::otlp::OtlpSettings;
use crate::flush_error::FlushError;
use crate::resource::Detection;
use crate::span::stack::is_suppressed;
use crate::state::Pipeline;

pub(crate) use forward::Forward;
use forward::SdkQueue;
use worker::Worker;

/// Limits and timing of the export pipeline (`OTEL_BSP_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Spans that may wait for export, in all threads' queues together.
    pub max_queue: usize,
    /// The most spans handed to an exporter at once.
    pub max_batch: usize,
    /// How long spans may wait before being exported.
    pub schedule_delay: Duration,
    /// How long an exporter may take over one batch before its next
    /// batches are dropped until it finishes.
    pub export_timeout: Duration,
}

/// An exporter to start.
pub(crate) enum ExporterSpec {
    /// A `SpanExporter` (custom, console, JSON), run on a thread of its own.
    Spans(BoxedExporter),
    /// OTLP, sent on a runtime of its own.
    Otlp(Box<OtlpSettings>),
}

/// The outcome of a flush or shutdown, as reported to the waiting caller.
pub(crate) type Outcome = Result<(), FlushError>;

/// A request to the export thread: where to answer, by when, and how long
/// the caller waits.
enum Request {
    Flush(SyncSender<Outcome>, Instant, Duration),
    Shutdown(SyncSender<Outcome>, Instant, Duration),
    Retire(SyncSender<()>),
}

struct Shared {
    generation: u32,
    /// The process that started the thread: after `fork()`, the child has
    /// no export thread.
    pid: u32,
    requests: Mutex<Vec<Request>>,
    sdk_spans: Arc<SdkQueue>,
    thread: OnceLock<Thread>,
    stopped: AtomicBool,
    /// Set with every wake-up. The thread's park token alone is not enough:
    /// an exporter's future parking the same thread would swallow it.
    woken: AtomicBool,
    /// Whether the thread waits for exporters to finish batches (a flush,
    /// or batches held back by a full exporter). Otherwise a finished batch
    /// does not wake it: its report is read at the next wake-up, which
    /// spares a wake-up per batch while spans come steadily.
    wants_reports: AtomicBool,
}

impl Shared {
    fn wake(&self) {
        self.woken.store(true, Ordering::Release);
        if let Some(thread) = self.thread.get() {
            thread.unpark();
        }
    }

    /// An exporter reported a finished batch (already in the channel).
    fn reported(&self) {
        // Pairs with the fence in `Worker::sleep`: either the thread sees
        // the report before it sleeps, or this sees that it wants it.
        fence(Ordering::SeqCst);
        if self.wants_reports.load(Ordering::Relaxed) {
            self.wake();
        }
    }
}

/// The running export thread of one installation.
pub(crate) struct Collector {
    shared: Arc<Shared>,
    limits: Limits,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("generation", &self.shared.generation)
            .finish()
    }
}

/// How much sooner than the caller's own deadline the export thread gives
/// up, to count what it could not export before the caller stops waiting.
fn accounting_margin(wait: Duration) -> Duration {
    (wait / 10).min(Duration::from_millis(50))
}

impl Collector {
    /// Starts the export thread and the exporters' lanes. With `detection`
    /// under way, the lanes start once it is over (or its deadline passed),
    /// with the detected attributes under `resource`'s.
    pub(crate) fn start(
        generation: u32,
        limits: Limits,
        exporters: Vec<ExporterSpec>,
        resource: &Resource,
        detection: Option<Arc<Detection>>,
        scope: InstrumentationScope,
    ) -> Self {
        let shared = Arc::new(Shared {
            generation,
            pid: std::process::id(),
            requests: Mutex::new(Vec::new()),
            sdk_spans: Arc::new(SdkQueue::default()),
            thread: OnceLock::new(),
            stopped: AtomicBool::new(false),
            woken: AtomicBool::new(false),
            wants_reports: AtomicBool::new(false),
        });
        if let Some(detection) = &detection {
            let waiting = shared.clone();
            detection.when_done(move |_| waiting.wake());
        }
        let worker = Worker::new(
            shared.clone(),
            limits,
            exporters,
            resource,
            detection,
            scope,
        );
        let spawned = thread::Builder::new()
            .name("xray-export".into())
            .spawn(move || worker.run());
        match spawned {
            Ok(handle) => {
                let _ = shared.thread.set(handle.thread().clone());
            }
            Err(err) => {
                eprintln!(
                    "xray: cannot start the export thread ({err}); spans will not be exported"
                );
                shared.stopped.store(true, Ordering::Release);
            }
        }
        Self { shared, limits }
    }

    /// A span processor for spans made through the OpenTelemetry API.
    pub(crate) fn processor(&self) -> Forward {
        let shared = self.shared.clone();
        Forward {
            queue: self.shared.sdk_spans.clone(),
            capacity: self.limits.max_queue,
            batch: self.limits.max_batch,
            wake: Arc::new(move || shared.wake()),
        }
    }

    fn request<R>(
        &self,
        make: impl FnOnce(SyncSender<R>) -> Request,
        wait: Duration,
        timed_out: R,
    ) -> Result<R, FlushError> {
        if self.shared.stopped.load(Ordering::Acquire) {
            return Err(FlushError::ShutDown);
        }
        if std::process::id() != self.shared.pid {
            return Err(FlushError::NotRunning);
        }
        if is_suppressed() {
            // An exporter (or other export-path code) waiting for the export
            // thread would wait for itself.
            return Err(FlushError::InsideExport);
        }
        let (tx, rx): (SyncSender<R>, Receiver<R>) = mpsc::sync_channel(1);
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(make(tx));
        self.shared.wake();
        match rx.recv_timeout(wait) {
            Ok(result) => Ok(result),
            Err(mpsc::RecvTimeoutError::Timeout) => Ok(timed_out),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(FlushError::NotRunning),
        }
    }

    /// Exports everything finished so far, waiting at most `wait`.
    pub(crate) fn flush(&self, wait: Duration) -> Outcome {
        let deadline = Instant::now() + wait - accounting_margin(wait);
        self.request(
            |tx| Request::Flush(tx, deadline, wait),
            wait,
            Err(FlushError::Timeout(wait)),
        )?
    }

    /// Exports everything, shuts the exporters down and stops the thread,
    /// returning within `timeout` whatever the exporters do. What could not
    /// be exported in time is counted as lost.
    pub(crate) fn shutdown(&self, timeout: Duration) -> Outcome {
        let deadline = Instant::now() + timeout - accounting_margin(timeout);
        let result = self.request(
            |tx| Request::Shutdown(tx, deadline, timeout),
            timeout,
            Err(FlushError::Timeout(timeout)),
        );
        self.shared.stopped.store(true, Ordering::Release);
        result?
    }
}

/// How long a newer installation waits for an older one to take what is
/// queued for it.
const RETIRE_WAIT: Duration = Duration::from_secs(1);

impl Pipeline for Collector {
    fn nudge(&self) {
        self.shared.wake();
    }

    fn flush(&self, wait: Duration) -> Result<(), FlushError> {
        Collector::flush(self, wait)
    }

    fn retire(&self) {
        let _ = self.request(Request::Retire, RETIRE_WAIT, ());
    }
}
