//! The export thread's loop.
//!
//! Each turn it takes finished batches' reports, answers requests, drains
//! the queues into its buffer (bounded: when it is full, spans wait in the
//! queues, and beyond their room they are dropped and counted), cuts
//! batches and submits them to every exporter's lane that has room, marks
//! lanes that hold a batch too long as stalled (their batches are then
//! counted as lost instead of waiting), and answers flushes and shutdown
//! once what they wait for is exported, or their deadline passed.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::{Duration, Instant};

use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanData;

#[cfg(feature = "xray-sampler")]
use super::held::Held;
use super::{ExporterSpec, Limits, Outcome, Request, Shared};
use crate::clock::{self, Converter};
use crate::export::lane::{Batch, Completions, Done, Lane, Outcome as BatchOutcome};
use crate::export::{ExporterLane, OtlpLane};
use crate::flush_error::FlushError;
use crate::record::Finished;
use crate::resource::Detection;
use crate::span::stack::suppress_this_thread;
use crate::state;
use crate::stats::{self, Loss, Stats};

/// The longest the thread sleeps: it refreshes the coarse clock of trace
/// ids and checks the wall clock at least this often.
const MAX_SLEEP: Duration = Duration::from_secs(1);
/// Free queue blocks kept for reuse when the thread is idle.
const IDLE_BLOCKS: usize = 64;
/// The least time an exporter's shutdown is given, even past the deadline.
const MIN_LANE_SHUTDOWN: Duration = Duration::from_millis(10);
/// How long past its deadline resource detection is waited for: it gives
/// up on late detectors at the deadline, and hands over what it has.
const DETECTION_GRACE: Duration = Duration::from_millis(50);

/// An exporter's lane and what the thread knows of it.
struct LaneState {
    lane: Box<dyn Lane>,
    /// Batches submitted and not reported: their time and size.
    in_flight: BTreeMap<u64, (Instant, u64)>,
    /// It held a batch too long: its next batches are dropped until it
    /// reports again.
    stalled: bool,
    /// Whether a failure was already reported on stderr.
    told_failure: bool,
}

impl LaneState {
    fn has_room(&self) -> bool {
        self.in_flight.len() < self.lane.max_in_flight()
    }
}

/// A caller waiting for a flush or the shutdown.
struct Waiter {
    reply: mpsc::SyncSender<Outcome>,
    deadline: Instant,
    shutdown: bool,
    /// How long the caller said it would wait.
    wait: Duration,
    /// Queues that held spans at the request (that did not fit the
    /// buffer then): their id and the count read once those are taken.
    queued: Vec<(u64, u64)>,
    /// The same for spans made through the OpenTelemetry API.
    sdk_queued: u64,
    /// Once every span of the request is drained: how many were drained in
    /// all by then. They must all be cut and exported.
    target: Option<u64>,
    /// The last batch holding one of them, once cut.
    target_seq: Option<u64>,
    /// Export errors seen while it waited.
    errors: Vec<String>,
}

/// Exporters waiting for resource detection: they start with its result,
/// so that every batch carries the same resource.
struct PendingLanes {
    exporters: Vec<ExporterSpec>,
    resource: Resource,
    detection: Arc<Detection>,
    scope: InstrumentationScope,
}

pub(super) struct Worker {
    shared: Arc<Shared>,
    limits: Limits,
    lanes: Vec<LaneState>,
    pending: Option<PendingLanes>,
    /// Where lanes report finished batches, and how they wake this thread.
    done_sender: Sender<Done>,
    waker: Arc<dyn Fn() + Send + Sync>,
    done: Receiver<Done>,
    records: VecDeque<Finished>,
    sdk: VecDeque<SpanData>,
    /// Spans drained and cut since the start: a flush waits for those
    /// drained before it to be cut and exported.
    drained_total: u64,
    cut_total: u64,
    next_seq: u64,
    last_cut: Instant,
    waiters: Vec<Waiter>,
    /// A newer installation took over: the queues are its to drain.
    retired: bool,
    /// The last drain took everything the queues held.
    queues_drained: bool,
    /// What was counted at the last flush: a flush reports losses since.
    at_last_flush: Stats,
    told_queue_full: bool,
    rotation: usize,
    /// Traces held for adaptive sampling.
    #[cfg(feature = "xray-sampler")]
    held: Held,
}

impl Worker {
    pub(super) fn new(
        shared: Arc<Shared>,
        limits: Limits,
        exporters: Vec<ExporterSpec>,
        resource: &Resource,
        detection: Option<Arc<Detection>>,
        scope: InstrumentationScope,
    ) -> Self {
        let (done_sender, done) = mpsc::channel();
        let waker = {
            let shared = shared.clone();
            Arc::new(move || shared.reported()) as Arc<dyn Fn() + Send + Sync>
        };
        let mut worker = Self {
            shared,
            limits,
            lanes: Vec::new(),
            pending: None,
            done_sender,
            waker,
            done,
            records: VecDeque::new(),
            sdk: VecDeque::new(),
            drained_total: 0,
            cut_total: 0,
            next_seq: 0,
            last_cut: Instant::now(),
            waiters: Vec::new(),
            retired: false,
            queues_drained: true,
            at_last_flush: stats::stats(),
            told_queue_full: false,
            rotation: 0,
            #[cfg(feature = "xray-sampler")]
            held: Held::default(),
        };
        match detection {
            Some(detection) if !exporters.is_empty() => {
                worker.pending = Some(PendingLanes {
                    exporters,
                    resource: resource.clone(),
                    detection,
                    scope,
                });
            }
            _ => worker.start_lanes(exporters, resource, &scope),
        }
        worker
    }

    fn start_lanes(
        &mut self,
        exporters: Vec<ExporterSpec>,
        resource: &Resource,
        scope: &InstrumentationScope,
    ) {
        for spec in exporters {
            let completions = Completions::new(
                self.lanes.len(),
                self.done_sender.clone(),
                self.waker.clone(),
            );
            let lane: Result<Box<dyn Lane>, String> = match spec {
                ExporterSpec::Spans(mut exporter) => {
                    exporter.set_resource(resource);
                    let name = exporter.name();
                    ExporterLane::start(
                        exporter,
                        scope.clone(),
                        completions,
                        self.limits.export_timeout,
                    )
                    .map(|lane| Box::new(lane) as Box<dyn Lane>)
                    .map_err(|e| format!("cannot start the {name} exporter's thread: {e}"))
                }
                ExporterSpec::Otlp(settings) => {
                    OtlpLane::start(*settings, resource, scope, completions)
                        .map(|lane| Box::new(lane) as Box<dyn Lane>)
                }
            };
            match lane {
                Ok(lane) => self.lanes.push(LaneState {
                    lane,
                    in_flight: BTreeMap::new(),
                    stalled: false,
                    told_failure: false,
                }),
                Err(why) => eprintln!("xray: {why}; spans will not be exported there"),
            }
        }
    }

    /// When the pending lanes must start: once detection is over, at its
    /// deadline, or in time for a waiting flush to export (half its wait).
    fn lanes_due_at(&self) -> Option<Instant> {
        let pending = self.pending.as_ref()?;
        let mut due = pending.detection.deadline() + DETECTION_GRACE;
        for waiter in &self.waiters {
            due = due.min(
                waiter
                    .deadline
                    .checked_sub(waiter.wait / 2)
                    .unwrap_or(waiter.deadline),
            );
        }
        Some(due)
    }

    /// Starts the lanes waiting for resource detection once they are due,
    /// with the detected attributes under the configured ones.
    fn start_pending_lanes(&mut self) {
        let Some(pending) = &self.pending else {
            return;
        };
        let detected = pending.detection.result();
        if detected.is_none() && self.lanes_due_at().is_some_and(|at| Instant::now() < at) {
            return;
        }
        let Some(pending) = self.pending.take() else {
            return;
        };
        let resource = with_detected(detected.unwrap_or_default(), &pending.resource);
        self.start_lanes(pending.exporters, &resource, &pending.scope);
    }

    pub(super) fn run(mut self) {
        suppress_this_thread();
        loop {
            self.sleep();
            clock::refresh();
            self.take_reports();
            self.take_requests();
            if self.drain() == 0 && self.records.is_empty() && self.sdk.is_empty() {
                state::POOL.trim(IDLE_BLOCKS);
            }
            self.start_pending_lanes();
            self.dispatch();
            self.watch_stalls();
            if self.answer_waiters() {
                break;
            }
        }
        state::POOL.trim(IDLE_BLOCKS);
    }

    /// Parks until woken, the next batch is due, a waiter's deadline, or
    /// [`MAX_SLEEP`].
    fn sleep(&mut self) {
        if self
            .shared
            .woken
            .swap(false, std::sync::atomic::Ordering::AcqRel)
        {
            return;
        }
        let wants_reports = self.waits_for_exporters();
        self.shared
            .wants_reports
            .store(wants_reports, std::sync::atomic::Ordering::Relaxed);
        if wants_reports {
            // Pairs with the fence in `Shared::reported`: a report sent
            // before the flag was seen is taken here.
            std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
            if self.take_reports() {
                return;
            }
        }
        let now = Instant::now();
        let mut wake_at = now + MAX_SLEEP;
        if !self.records.is_empty() || !self.sdk.is_empty() {
            wake_at = wake_at.min(self.last_cut + self.limits.schedule_delay);
        }
        for waiter in &self.waiters {
            wake_at = wake_at.min(waiter.deadline);
        }
        if let Some(due) = self.lanes_due_at() {
            wake_at = wake_at.min(due);
        }
        thread::park_timeout(wake_at.saturating_duration_since(now));
        self.shared
            .woken
            .store(false, std::sync::atomic::Ordering::Release);
    }

    /// Whether a finished batch should wake the thread: a flush or the
    /// shutdown waits, or a batch is due and an exporter has no room for it.
    fn waits_for_exporters(&self) -> bool {
        !self.waiters.is_empty()
            || (self.batch_due()
                && self
                    .lanes
                    .iter()
                    .any(|lane| !lane.stalled && !lane.has_room()))
    }

    /// Takes the lanes' reports of finished batches; returns whether there
    /// were any.
    fn take_reports(&mut self) -> bool {
        let mut any = false;
        while let Ok(done) = self.done.try_recv() {
            any = true;
            let Some(lane) = self.lanes.get_mut(done.lane) else {
                continue;
            };
            lane.in_flight.remove(&done.seq);
            lane.stalled = false;
            let failure = match done.outcome {
                BatchOutcome::Exported => {
                    stats::exported(done.spans);
                    None
                }
                BatchOutcome::Rejected { spans, message } => {
                    stats::exported(done.spans.saturating_sub(spans));
                    stats::lose(Loss::ExportFailed, spans);
                    Some(format!(
                        "the receiver rejected {spans} of {} spans ({message})",
                        done.spans
                    ))
                }
                BatchOutcome::Failed(reason) => {
                    stats::lose(Loss::ExportFailed, done.spans);
                    Some(format!("could not deliver {} spans ({reason})", done.spans))
                }
                BatchOutcome::Panicked(message) => {
                    stats::lose(Loss::ExportFailed, done.spans);
                    Some(format!(
                        "panicked ({message}); its batch of {} spans is lost, export goes on",
                        done.spans
                    ))
                }
            };
            if let Some(failure) = failure {
                let message = format!("the {} exporter {failure}", lane.lane.name());
                if !lane.told_failure {
                    lane.told_failure = true;
                    eprintln!(
                        "xray: {message}; the application goes on, later losses are counted and reported at shutdown"
                    );
                }
                for waiter in &mut self.waiters {
                    waiter.errors.push(message.clone());
                }
            }
        }
        any
    }

    fn take_requests(&mut self) {
        let requests = std::mem::take(
            &mut *self
                .shared
                .requests
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        for request in requests {
            let shutdown = matches!(request, Request::Shutdown(..));
            match request {
                Request::Flush(reply, deadline, wait)
                | Request::Shutdown(reply, deadline, wait) => {
                    self.drain_all();
                    let queued = if self.retired {
                        Vec::new()
                    } else {
                        state::queues()
                            .iter_mut()
                            .filter_map(|queue| {
                                let left = queue.available();
                                (left > 0).then(|| (queue.id(), queue.consumed() + left))
                            })
                            .collect()
                    };
                    let mut waiter = Waiter {
                        reply,
                        deadline,
                        wait,
                        shutdown,
                        queued,
                        sdk_queued: self.shared.sdk_spans.positions().0,
                        target: None,
                        target_seq: None,
                        errors: Vec::new(),
                    };
                    self.settle(&mut waiter);
                    self.waiters.push(waiter);
                }
                Request::Retire(reply) => {
                    self.drain_all();
                    self.retired = true;
                    let _ = reply.send(());
                }
            }
        }
    }

    /// Room left in the buffer: as much as the queues can hold, so that a
    /// flush can take everything they hold at once.
    fn room(&self) -> usize {
        (state::queue_capacity() + self.limits.max_queue)
            .saturating_sub(self.records.len() + self.sdk.len())
    }

    /// Drains until the queues are empty or the buffer is full.
    fn drain_all(&mut self) {
        while self.drain() > 0 {}
    }

    /// Moves queued spans into the buffer (while it has room); returns how
    /// many it took.
    fn drain(&mut self) -> usize {
        let mut room = self.room();
        let room_before = room;
        let mut taken = 0;
        if !self.retired {
            let generation = self.shared.generation;
            let mut superseded = 0;
            let mut newer = Vec::new();
            let mut mine = Mine {
                records: &mut self.records,
                #[cfg(feature = "xray-sampler")]
                held: &mut self.held,
            };
            #[cfg(feature = "xray-sampler")]
            mine.held.expire(Instant::now());
            for span in state::take_handed_over() {
                sort_by_generation(span, generation, &mut mine, &mut newer, &mut superseded);
            }
            let mut queues = state::queues();
            let count = queues.len();
            self.rotation = self.rotation.wrapping_add(1);
            for i in 0..count {
                let queue = &mut queues[(self.rotation + i) % count];
                let moved = queue.drain(room, |span| {
                    sort_by_generation(span, generation, &mut mine, &mut newer, &mut superseded);
                });
                room -= moved;
                taken += moved;
                stats::lose(Loss::QueueFull, queue.take_dropped());
            }
            queues.retain_mut(|queue| {
                if !queue.is_finished() {
                    return true;
                }
                // Its thread may have dropped more before it ended.
                stats::lose(Loss::QueueFull, queue.take_dropped());
                false
            });
            drop(queues);
            state::hand_over(newer);
            stats::lose(Loss::Superseded, superseded);
            if state::drained() && !self.told_queue_full {
                self.told_queue_full = true;
                eprintln!(
                    "xray: spans are being dropped: they end faster than they can be exported, and the \
                     export queue ({} spans) is full; raise OTEL_BSP_MAX_QUEUE_SIZE or sample fewer traces. \
                     The total is reported at shutdown",
                    self.limits.max_queue
                );
            }
        }
        let before = self.sdk.len();
        self.shared.sdk_spans.drain_into(&mut self.sdk, room);
        taken += self.sdk.len() - before;
        self.queues_drained = taken < room_before || self.retired;
        self.drained_total += taken as u64;
        if self.lanes.is_empty() && self.pending.is_none() {
            // Recorded for propagation only (exporter `none`).
            self.cut_total += (self.records.len() + self.sdk.len()) as u64;
            self.records.clear();
            self.sdk.clear();
        }
        taken
    }

    /// Sets a waiter's target once every span it waits for was drained.
    fn settle(&self, waiter: &mut Waiter) {
        if waiter.target.is_some() {
            return;
        }
        if !waiter.queued.is_empty() {
            let queues = state::queues();
            waiter.queued.retain(|&(id, position)| {
                // A queue no longer registered was read to its end.
                queues
                    .iter()
                    .any(|queue| queue.id() == id && queue.consumed() < position)
            });
        }
        let sdk_taken = self.shared.sdk_spans.positions().1;
        if waiter.queued.is_empty() && sdk_taken >= waiter.sdk_queued {
            waiter.target = Some(self.drained_total);
            if self.cut_total >= self.drained_total {
                // Already cut: the last batch may still be in flight.
                waiter.target_seq = self.next_seq.checked_sub(1);
            }
        }
    }

    /// Whether a batch should be cut now.
    fn batch_due(&self) -> bool {
        let pending = self.records.len() + self.sdk.len();
        pending > 0
            && (pending >= self.limits.max_batch
                || self.last_cut.elapsed() >= self.limits.schedule_delay
                || self
                    .waiters
                    .iter()
                    .any(|w| w.target.is_none_or(|target| self.cut_total < target)))
    }

    /// Cuts batches and submits them while every lane has room (a stalled
    /// lane does not hold the others back).
    fn dispatch(&mut self) {
        if self.lanes.is_empty() {
            return;
        }
        while self.batch_due()
            && self
                .lanes
                .iter()
                .all(|lane| lane.stalled || lane.has_room())
        {
            let batch = self.cut();
            let size = batch.len() as u64;
            let last = self.lanes.len() - 1;
            let mut batch = Some(batch);
            for (index, lane) in self.lanes.iter_mut().enumerate() {
                if lane.stalled {
                    stats::lose(Loss::ExportFailed, size);
                    continue;
                }
                let Some(whole) = batch.as_ref() else {
                    break;
                };
                let copy = if index == last {
                    batch.take()
                } else {
                    Some(whole.duplicate())
                };
                if let Some(copy) = copy {
                    lane.in_flight.insert(copy.seq, (Instant::now(), size));
                    lane.lane.submit(copy);
                }
            }
            // Keep draining while batches go out: the queues are the buffer.
            self.drain();
        }
    }

    fn cut(&mut self) -> Batch {
        let from_records = self.records.len().min(self.limits.max_batch);
        let spans: Vec<Finished> = self.records.drain(..from_records).collect();
        let from_sdk = self.sdk.len().min(self.limits.max_batch - from_records);
        let sdk_spans: Vec<SpanData> = self.sdk.drain(..from_sdk).collect();
        let seq = self.next_seq;
        self.next_seq += 1;
        self.cut_total += (from_records + from_sdk) as u64;
        self.last_cut = Instant::now();
        for waiter in &mut self.waiters {
            if waiter.target_seq.is_none()
                && waiter.target.is_some_and(|target| self.cut_total >= target)
            {
                waiter.target_seq = Some(seq);
            }
        }
        Batch {
            seq,
            spans,
            sdk_spans,
            converter: Converter::now(),
        }
    }

    /// Marks lanes that hold a batch longer than the export timeout.
    fn watch_stalls(&mut self) {
        for lane in &mut self.lanes {
            let oldest = lane.in_flight.values().map(|(at, _)| *at).min();
            if !lane.stalled
                && !lane.has_room()
                && oldest.is_some_and(|at| at.elapsed() > lane.lane.stall_after())
            {
                lane.stalled = true;
                eprintln!(
                    "xray: the {} exporter has held a batch for more than {} ms; its next batches \
                     are dropped (and counted) until it finishes",
                    lane.lane.name(),
                    lane.lane.stall_after().as_millis()
                );
            }
        }
    }

    /// Answers waiters whose spans are exported, or whose deadline passed;
    /// returns true when the shutdown was answered.
    fn answer_waiters(&mut self) -> bool {
        let now = Instant::now();
        let mut stop = false;
        let waiters = std::mem::take(&mut self.waiters);
        for mut waiter in waiters {
            self.settle(&mut waiter);
            let complete = self.complete(&waiter);
            if !complete && now < waiter.deadline {
                self.waiters.push(waiter);
                continue;
            }
            let outcome = if complete {
                self.result(&waiter)
            } else {
                if waiter.shutdown {
                    self.abandon();
                }
                Err(FlushError::Timeout(waiter.wait))
            };
            if waiter.shutdown {
                // The exporters' own shutdown (writing out what they hold)
                // gets what is left of the caller's time.
                let left = waiter.deadline.saturating_duration_since(Instant::now());
                for lane in self.lanes.drain(..) {
                    lane.lane.shutdown(left.max(MIN_LANE_SHUTDOWN));
                }
                stop = true;
            }
            let _ = waiter.reply.send(outcome);
        }
        stop
    }

    /// Whether everything `waiter` waits for is exported.
    fn complete(&self, waiter: &Waiter) -> bool {
        if waiter.shutdown {
            return self.records.is_empty()
                && self.sdk.is_empty()
                && self.lanes.iter().all(|lane| lane.in_flight.is_empty())
                && self.queues_drained;
        }
        let Some(target) = waiter.target else {
            return false;
        };
        if self.cut_total < target {
            return false;
        }
        match waiter.target_seq {
            None => true,
            Some(seq) => self
                .lanes
                .iter()
                .all(|lane| lane.in_flight.range(..=seq).next().is_none()),
        }
    }

    /// A complete flush's answer: the first export error, else the spans
    /// lost since the previous flush.
    fn result(&mut self, waiter: &Waiter) -> Outcome {
        let now = stats::stats();
        let lost = now.since(&self.at_last_flush);
        self.at_last_flush = now;
        if let Some(error) = waiter.errors.first() {
            return Err(FlushError::Export(error.clone()));
        }
        if lost.lost() > 0 {
            return Err(FlushError::Lost(lost));
        }
        Ok(())
    }

    /// The shutdown's deadline passed: counts as lost what is still here,
    /// in the exporters, and in the queues.
    fn abandon(&mut self) {
        let mut lost = (self.records.len() + self.sdk.len()) as u64;
        self.records.clear();
        self.sdk.clear();
        for lane in &mut self.lanes {
            lost += lane.in_flight.values().map(|(_, size)| size).sum::<u64>();
            lane.in_flight.clear();
        }
        if !self.retired {
            let generation = self.shared.generation;
            let (mut records, mut newer, mut superseded) = (VecDeque::new(), Vec::new(), 0);
            let mut mine = Mine {
                records: &mut records,
                #[cfg(feature = "xray-sampler")]
                held: &mut self.held,
            };
            for queue in state::queues().iter_mut() {
                queue.drain(usize::MAX, |span| {
                    sort_by_generation(span, generation, &mut mine, &mut newer, &mut superseded);
                });
                stats::lose(Loss::QueueFull, queue.take_dropped());
            }
            lost += records.len() as u64;
            state::hand_over(newer);
            stats::lose(Loss::Superseded, superseded);
        }
        stats::lose(Loss::ExportFailed, lost);
    }
}

/// Where this installation's drained spans go: the buffer of spans to
/// export, or (held traces, roots of adaptive sampling) the holding area.
struct Mine<'a> {
    records: &'a mut VecDeque<Finished>,
    #[cfg(feature = "xray-sampler")]
    held: &'a mut Held,
}

impl Mine<'_> {
    fn file(&mut self, span: Finished) {
        #[cfg(feature = "xray-sampler")]
        self.held.file(span, self.records);
        #[cfg(not(feature = "xray-sampler"))]
        self.records.push_back(span);
    }
}

/// `resource` with the detected attributes it does not set itself.
fn with_detected(detected: Vec<KeyValue>, resource: &Resource) -> Resource {
    if detected.is_empty() {
        return resource.clone();
    }
    Resource::builder_empty()
        .with_attributes(detected)
        .with_attributes(
            resource
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
        )
        .build()
}

/// Files a drained span: this installation's into `mine`, a newer one's
/// into `newer` (handed over to its thread), an older one's counted.
fn sort_by_generation(
    span: Finished,
    generation: u32,
    mine: &mut Mine<'_>,
    newer: &mut Vec<Finished>,
    superseded: &mut u64,
) {
    if span.generation == generation {
        mine.file(span);
    } else if state::is_newer(span.generation, generation) {
        newer.push(span);
    } else {
        *superseded += 1;
    }
}
