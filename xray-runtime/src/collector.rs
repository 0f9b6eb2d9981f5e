//! The export thread: drains finished spans from every thread's ring, turns
//! them into OpenTelemetry [`SpanData`] and hands them to the exporters.
//!
//! Application threads never wait for it. It wakes when its schedule delay
//! passes, when a ring is half full, and on flush or shutdown requests; it is
//! the only caller of the exporters, as the `SpanExporter` contract requires.

use std::borrow::Cow;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context as TaskContext, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use opentelemetry::trace::{Event, SpanContext, SpanId, TraceFlags, TraceId};
use opentelemetry::{Array, InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter, SpanLinks, SpanProcessor};

use crate::clock::{self, Converter};
use crate::export::BoxedExporter;
use crate::ring::Registry;
use crate::span::{ANNOTATIONS_KEY, Finished};

/// Every thread's ring of finished spans (shared by successive installations;
/// each record carries the installation it belongs to).
pub(crate) static RINGS: Registry<Finished> = Registry::new();

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

impl Limits {
    pub(crate) fn from_env(env: crate::config::Env<'_>) -> Self {
        let number = |name: &str, default: u64| {
            env(name)
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|v| *v > 0)
                .unwrap_or(default)
        };
        Self {
            queue_per_thread: number("OTEL_BSP_MAX_QUEUE_SIZE", 2048) as usize,
            max_batch: number("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512) as usize,
            schedule_delay: Duration::from_millis(number("OTEL_BSP_SCHEDULE_DELAY", 5000)),
        }
    }
}

/// The outcome of a flush or shutdown, as reported to the waiting caller.
pub(crate) type Outcome = Result<(), String>;

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
            return Err("already shut down".into());
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
            Err(mpsc::RecvTimeoutError::Timeout) => Err(format!(
                "the exporters did not finish within {} ms",
                wait.as_millis()
            )),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                Err("the export thread has stopped".into())
            }
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
                    self.pending
                        .push(span.into_span_data(&converter, &self.scope));
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
                        result = Err(err.to_string());
                    }
                }
                if let Err(err) = block_on(last.export(batch)) {
                    result = Err(err.to_string());
                }
            }
        }
        result
    }
}

impl Finished {
    fn into_span_data(self, converter: &Converter, scope: &InstrumentationScope) -> SpanData {
        let mut attributes = Vec::new();
        let mut events = Vec::new();
        let mut status = opentelemetry::trace::Status::Unset;
        let mut name = Cow::Borrowed(self.spec.name);
        let mut kind = self.spec.kind.clone();
        if let Some(extra) = self.extra {
            let extra = *extra;
            if let Some(dynamic) = extra.name {
                name = dynamic;
            }
            if let Some(dynamic) = extra.kind {
                kind = dynamic;
            }
            attributes = extra.attributes;
            if !extra.annotations.is_empty() {
                attributes.push(KeyValue::new(
                    ANNOTATIONS_KEY,
                    Value::Array(Array::String(extra.annotations)),
                ));
            }
            events = extra
                .events
                .into_iter()
                .map(|e| Event::new(e.name, converter.wall(e.at), e.attributes, 0))
                .collect();
            status = extra.status;
        }
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(self.trace_id),
                SpanId::from(self.span_id),
                TraceFlags::SAMPLED,
                false,
                self.trace_state.unwrap_or_default(),
            ),
            parent_span_id: SpanId::from(self.parent_id),
            parent_span_is_remote: self.parent_remote,
            span_kind: kind,
            name,
            start_time: converter.wall(self.start),
            end_time: converter.wall(self.end),
            attributes,
            dropped_attributes_count: 0,
            events: span_events(events),
            links: SpanLinks::default(),
            status,
            instrumentation_scope: scope.clone(),
        }
    }
}

fn span_events(events: Vec<Event>) -> SpanEvents {
    let mut span_events = SpanEvents::default();
    span_events.events = events;
    span_events
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
