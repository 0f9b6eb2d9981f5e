//! The export thread: drains finished spans from every thread's ring, turns
//! them into OpenTelemetry [`SpanData`] and hands them to the exporters.
//!
//! Application threads never wait for it. It wakes when its schedule delay
//! passes, when a ring is half full, and on flush or shutdown requests; it is
//! the only caller of the exporters, as the `SpanExporter` contract requires.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context as TaskContext, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter, SpanProcessor};

use crate::clock::{self, Converter};
use crate::export::{BoxedExporter, span_data};
use crate::flush_error::FlushError;
use crate::record::Finished;
use crate::state::{Pipeline, RINGS};

/// Limits and timing of the export pipeline (`OTEL_BSP_*`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// Spans each thread may have waiting for export.
    pub queue_per_thread: usize,
    /// The most spans handed to an exporter at once.
    pub max_batch: usize,
    /// How long spans may wait before being exported.
    pub schedule_delay: Duration,
}

/// The outcome of a flush or shutdown, as reported to the waiting caller.
pub(crate) type Outcome = Result<(), FlushError>;

enum Request {
    Flush(SyncSender<Outcome>),
    Shutdown(Duration, SyncSender<Outcome>),
}

struct Shared {
    generation: u32,
    limits: Limits,
    requests: Mutex<Vec<Request>>,
    /// Spans made through the OpenTelemetry API (bounded by the queue size).
    sdk_spans: Mutex<Vec<SpanData>>,
    sdk_dropped: AtomicU64,
    thread: OnceLock<Thread>,
    stopped: AtomicBool,
    /// Set with every wake-up. The thread's park token alone is not enough:
    /// an exporter's future parks the same thread and would swallow it.
    woken: AtomicBool,
}

impl Shared {
    fn wake(&self) {
        self.woken.store(true, Ordering::Release);
        if let Some(thread) = self.thread.get() {
            thread.unpark();
        }
    }
}

/// The running export thread of one installation.
pub(crate) struct Collector {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("generation", &self.shared.generation)
            .finish()
    }
}

impl Collector {
    /// Starts the export thread for `exporters`.
    pub(crate) fn start(
        generation: u32,
        limits: Limits,
        mut exporters: Vec<BoxedExporter>,
        resource: &Resource,
        scope: InstrumentationScope,
    ) -> Self {
        clock::init();
        for exporter in &mut exporters {
            exporter.set_resource(resource);
        }
        let shared = Arc::new(Shared {
            generation,
            limits,
            requests: Mutex::new(Vec::new()),
            sdk_spans: Mutex::new(Vec::new()),
            sdk_dropped: AtomicU64::new(0),
            thread: OnceLock::new(),
            stopped: AtomicBool::new(false),
            woken: AtomicBool::new(false),
        });
        let worker = Worker {
            shared: shared.clone(),
            exporters,
            scope,
            pending: Vec::new(),
        };
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
        Self { shared }
    }

    /// Wakes the export thread because a ring is filling up.
    pub(crate) fn nudge(&self) {
        self.shared.wake();
    }

    /// A span processor for spans made through the OpenTelemetry API.
    pub(crate) fn processor(&self) -> Forward {
        Forward {
            shared: self.shared.clone(),
        }
    }

    fn request(
        &self,
        make: impl FnOnce(SyncSender<Outcome>) -> Request,
        wait: Duration,
    ) -> Outcome {
        if self.shared.stopped.load(Ordering::Acquire) {
            return Err(FlushError::ShutDown);
        }
        let (tx, rx): (SyncSender<Outcome>, Receiver<Outcome>) = mpsc::sync_channel(1);
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(make(tx));
        self.shared.wake();
        match rx.recv_timeout(wait) {
            Ok(result) => result,
            Err(mpsc::RecvTimeoutError::Timeout) => Err(FlushError::Timeout(wait)),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(FlushError::NotRunning),
        }
    }

    /// Exports everything finished so far, waiting at most `wait`.
    pub(crate) fn flush(&self, wait: Duration) -> Outcome {
        self.request(Request::Flush, wait)
    }

    /// Exports everything, shuts the exporters down and stops the thread,
    /// returning within `timeout` whatever the exporters do.
    pub(crate) fn shutdown(&self, timeout: Duration) -> Outcome {
        let result = self.request(|tx| Request::Shutdown(timeout, tx), timeout);
        self.shared.stopped.store(true, Ordering::Release);
        result
    }
}

impl Pipeline for Collector {
    fn nudge(&self) {
        Collector::nudge(self);
    }

    fn flush(&self, wait: Duration) -> Outcome {
        Collector::flush(self, wait)
    }
}

struct Worker {
    shared: Arc<Shared>,
    exporters: Vec<BoxedExporter>,
    scope: InstrumentationScope,
    pending: Vec<SpanData>,
}

impl Worker {
    fn run(mut self) {
        let mut drained = Vec::new();
        let mut last_export = Instant::now();
        let mut dropped_total = 0u64;
        let mut reported = false;
        loop {
            let delay = self.shared.limits.schedule_delay;
            let wait = delay
                .saturating_sub(last_export.elapsed())
                .min(Duration::from_secs(1));
            if !self.shared.woken.swap(false, Ordering::AcqRel) {
                thread::park_timeout(wait);
                self.shared.woken.store(false, Ordering::Release);
            }
            clock::refresh_epoch_seconds();

            let requests = std::mem::take(
                &mut *self
                    .shared
                    .requests
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()),
            );
            let dropped = self.collect(&mut drained);
            if dropped > 0 {
                dropped_total += dropped;
                if !reported {
                    reported = true;
                    eprintln!(
                        "xray: spans are being dropped: they end faster than they can be exported \
                         (raise OTEL_BSP_MAX_QUEUE_SIZE, now {} per thread); the total is reported at shutdown",
                        self.shared.limits.queue_per_thread
                    );
                }
            }

            let due = last_export.elapsed() >= delay
                || self.pending.len() >= self.shared.limits.max_batch;
            if due || !requests.is_empty() {
                let result = self.export_pending();
                last_export = Instant::now();
                for request in requests {
                    match request {
                        Request::Flush(reply) => {
                            let _ = reply.send(result.clone());
                        }
                        Request::Shutdown(timeout, reply) => {
                            for exporter in &self.exporters {
                                let _ = exporter.shutdown_with_timeout(timeout);
                            }
                            if dropped_total > 0 {
                                eprintln!(
                                    "xray: {dropped_total} spans were dropped in all because the export queue was full"
                                );
                            }
                            let _ = reply.send(result.clone());
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Moves finished spans from every ring (and from the OpenTelemetry API)
    /// into `pending`, converted; returns how many were dropped since last time.
    fn collect(&mut self, drained: &mut Vec<Finished>) -> u64 {
        let mut dropped = RINGS.drain_into(drained);
        if !drained.is_empty() {
            let converter = Converter::now();
            let generation = self.shared.generation;
            for span in drained.drain(..) {
                if span.generation == generation {
                    self.pending.push(span_data(span, &converter, &self.scope));
                }
            }
        }
        let mut sdk = self
            .shared
            .sdk_spans
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        self.pending.append(&mut sdk);
        drop(sdk);
        dropped += self.shared.sdk_dropped.swap(0, Ordering::Relaxed);
        dropped
    }

    fn export_pending(&mut self) -> Outcome {
        let mut result = Ok(());
        let batch_size = self.shared.limits.max_batch.max(1);
        while !self.pending.is_empty() {
            let take = self.pending.len().min(batch_size);
            let batch: Vec<SpanData> = self.pending.drain(..take).collect();
            if let Some((last, others)) = self.exporters.split_last() {
                for exporter in others {
                    if let Err(err) = block_on(exporter.export(batch.clone())) {
                        result = Err(FlushError::Export(err.to_string()));
                    }
                }
                if let Err(err) = block_on(last.export(batch)) {
                    result = Err(FlushError::Export(err.to_string()));
                }
            }
        }
        result
    }
}

/// Hands spans made through the OpenTelemetry API to the export thread, so
/// that they leave through the same exporters, in the same batches.
#[derive(Debug)]
pub(crate) struct Forward {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("generation", &self.generation)
            .finish()
    }
}

impl SpanProcessor for Forward {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &opentelemetry::Context) {}

    fn on_end(&self, span: SpanData) {
        let mut spans = self
            .shared
            .sdk_spans
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if spans.len() >= self.shared.limits.queue_per_thread {
            self.shared.sdk_dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        spans.push(span);
        let full = spans.len() >= self.shared.limits.max_batch;
        drop(spans);
        if full {
            self.shared.wake();
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// Runs an exporter's future to completion on this thread.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut task = TaskContext::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut task) {
            return output;
        }
        thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_on_waits_for_wakeups_from_other_threads() {
        struct Later {
            done: Arc<AtomicBool>,
            started: bool,
        }
        impl Future for Later {
            type Output = u8;
            fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<u8> {
                if self.done.load(Ordering::Acquire) {
                    return Poll::Ready(7);
                }
                if !self.started {
                    self.started = true;
                    let (done, waker) = (self.done.clone(), cx.waker().clone());
                    std::thread::spawn(move || {
                        std::thread::sleep(Duration::from_millis(10));
                        done.store(true, Ordering::Release);
                        waker.wake();
                    });
                }
                Poll::Pending
            }
        }
        let later = Later {
            done: Arc::new(AtomicBool::new(false)),
            started: false,
        };
        assert_eq!(block_on(later), 7);
    }
}
