//! Spans made by the macros, and helpers that act on the current span.
//!
//! The hot path is ours rather than the OpenTelemetry SDK's: each thread keeps
//! a stack of open span frames (trace id, span id, sampling decision), ids
//! come from a per-thread generator, timestamps are TSC ticks, and a finished
//! sampled span is written into the thread's ring for the export thread, which
//! turns it into an OpenTelemetry `SpanData` for the exporters. A span
//! without dynamic attributes allocates nothing; an unsampled one reads no
//! clock and is never queued, yet its ids stay available for propagation.
//!
//! Code using the OpenTelemetry API inside a traced function still sees the
//! traced span as its parent: the global tracer and propagator installed by
//! [`init`](crate::init) consult this stack, and a span made current through
//! the OpenTelemetry API is in turn the parent of traced functions called
//! under it.

use std::borrow::Cow;
use std::cell::RefCell;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Once};
use std::task::{Context as TaskContext, Poll};

use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Context, Key, KeyValue, StringValue, Value};

use crate::clock;
use crate::collector::RINGS;
use crate::id::{Rng, trace_id_at};
use crate::propagation::{IncomingXray, Sampling, XrayHeader, xray_trace_id};
use crate::provider::{self, ENABLED, XraySampler};
use crate::ring::Ring;
use crate::value::{AnnotationValue, AttributeValue, truncate};

/// The attribute that lists which attributes are X-Ray annotations (indexed
/// and searchable); collectors' X-Ray exporters read it.
pub const ANNOTATIONS_KEY: &str = "aws.xray.annotations";
/// Set to `true` on the span of an async function dropped before it finished.
pub const CANCELLED_KEY: &str = "xray.cancelled";

/// What a span is, fixed at compile time by the macros.
#[doc(hidden)]
#[derive(Debug)]
pub struct SpanSpec {
    /// The span name.
    pub name: &'static str,
    /// The span kind.
    pub kind: SpanKind,
    /// Flush the provider when this span ends (AWS Lambda invocations).
    pub flush: bool,
}

/// What a span records beyond its ids and times; allocated only when needed.
#[derive(Debug, Default)]
pub(crate) struct Extra {
    pub attributes: Vec<KeyValue>,
    pub annotations: Vec<StringValue>,
    pub events: Vec<RawEvent>,
    pub status: Status,
    /// The caller's context for a root continuing a remote trace (lineage,
    /// baggage, W3C trace state).
    pub remote: Option<Context>,
    /// A name and kind decided at run time ([`Span`]), instead of the spec's.
    pub name: Option<Cow<'static, str>>,
    pub kind: Option<SpanKind>,
}

#[derive(Debug)]
pub(crate) struct RawEvent {
    pub name: Cow<'static, str>,
    pub at: u64,
    pub attributes: Vec<KeyValue>,
}

/// An open span, on its thread's stack while it is current.
#[derive(Debug)]
pub(crate) struct Frame {
    trace_id: u128,
    span_id: u64,
    parent_id: u64,
    sampled: bool,
    parent_remote: bool,
    /// Stands for a span of another thread or task (see [`SpanHandle`]):
    /// children nest under it, but it is not this thread's to end.
    proxy: bool,
    generation: u32,
    /// The OpenTelemetry API's current span when this frame was pushed: a
    /// different one later means code made its own span current under ours.
    otel_seen: u64,
    spec: &'static SpanSpec,
    start: u64,
    extra: Option<Box<Extra>>,
}

/// A finished, sampled span on its way to the export thread.
#[derive(Debug)]
pub(crate) struct Finished {
    pub trace_id: u128,
    pub span_id: u64,
    pub parent_id: u64,
    pub parent_remote: bool,
    pub generation: u32,
    pub spec: &'static SpanSpec,
    pub start: u64,
    pub end: u64,
    pub extra: Option<Box<Extra>>,
    pub trace_state: Option<TraceState>,
}

impl Frame {
    fn extra(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }

    fn remote(&self) -> Option<&Context> {
        self.extra.as_ref().and_then(|extra| extra.remote.as_ref())
    }

    fn span_context(&self) -> SpanContext {
        let flags = if self.sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        let state = self
            .remote()
            .map(|cx| cx.span().span_context().trace_state().clone());
        SpanContext::new(
            TraceId::from(self.trace_id),
            SpanId::from(self.span_id),
            flags,
            false,
            state.unwrap_or_default(),
        )
    }

    fn record_error(&mut self, error: ErrorInfo) {
        let message = truncate(error.message);
        // The same error bubbling up from a child that recorded it: mark this
        // span failed and point at the event, without a second copy of it.
        let origin = LAST_EXCEPTION.with(|last| {
            let mut last = last.borrow_mut();
            let bubbled = last.as_ref().and_then(|l| {
                (l.recorder_parent == self.span_id
                    && l.type_name == error.type_name
                    && l.message == message)
                    .then_some(l.origin)
            });
            *last = Some(LastException {
                type_name: error.type_name,
                message: message.clone(),
                recorder_parent: self.parent_id,
                origin: bubbled.unwrap_or(self.span_id),
            });
            bubbled
        });
        if let Some(origin) = origin {
            let extra = self.extra();
            extra.status = Status::error(message);
            extra.attributes.push(KeyValue::new(
                EXCEPTION_ORIGIN_KEY,
                format!("{origin:016x}"),
            ));
            return;
        }
        let mut attributes = vec![
            KeyValue::new("exception.type", error.type_name),
            KeyValue::new("exception.message", message.clone()),
        ];
        if !error.causes.is_empty() {
            let causes = error
                .causes
                .into_iter()
                .map(|c| StringValue::from(truncate(c)))
                .collect();
            attributes.push(KeyValue::new(
                "exception.causes",
                Value::Array(opentelemetry::Array::String(causes)),
            ));
        }
        let extra = self.extra();
        extra.status = Status::error(message);
        extra.events.push(RawEvent {
            name: "exception".into(),
            at: clock::ticks(),
            attributes,
        });
    }

    fn record_panic(&mut self) {
        let mut attributes = vec![KeyValue::new("exception.type", "panic")];
        let _ = LAST_PANIC.try_with(|last| {
            if let Ok(last) = last.try_borrow()
                && let Some(panic) = last.as_ref()
            {
                attributes.push(KeyValue::new(
                    "exception.message",
                    truncate(panic.message.clone()),
                ));
                if let Some((file, line)) = &panic.location {
                    attributes.push(KeyValue::new("code.file.path", file.clone()));
                    attributes.push(KeyValue::new("code.line.number", i64::from(*line)));
                }
            }
        });
        attributes.push(KeyValue::new("exception.escaped", true));
        let extra = self.extra();
        extra.status = Status::error("panicked");
        extra.events.push(RawEvent {
            name: "exception".into(),
            at: clock::ticks(),
            attributes,
        });
    }

    /// Ends the span (taken off the stack): queues it for export when sampled.
    fn finish(self) {
        if with_local(|local| self.finish_into(local)).unwrap_or(false) {
            crate::private::flush_invocation();
        }
    }

    /// Ends the span inside a borrow of this thread's state; returns whether
    /// the provider must be flushed now (a Lambda invocation ended).
    #[inline]
    fn finish_into(mut self, local: &mut Local) -> bool {
        if self.proxy {
            return false;
        }
        if self.sampled {
            if std::thread::panicking() {
                self.record_panic();
            }
            if self.generation == provider::generation() {
                let trace_state = self
                    .remote()
                    .map(|cx| cx.span().span_context().trace_state().clone());
                local.queue(Finished {
                    trace_id: self.trace_id,
                    span_id: self.span_id,
                    parent_id: self.parent_id,
                    parent_remote: self.parent_remote,
                    generation: self.generation,
                    spec: self.spec,
                    start: self.start,
                    end: clock::ticks(),
                    extra: self.extra.take(),
                    trace_state,
                });
            }
        }
        self.spec.flush
    }
}

/// Per-thread state: the stack of open spans and the queue of finished ones.
struct Local {
    stack: Vec<Frame>,
    ring: Option<Arc<Ring<Finished>>>,
    rng: Rng,
}

impl Drop for Local {
    fn drop(&mut self) {
        if let Some(ring) = &self.ring {
            ring.close();
        }
    }
}

thread_local! {
    static LOCAL: RefCell<Local> = const { RefCell::new(Local { stack: Vec::new(), ring: None, rng: Rng(0) }) };
}

impl Local {
    fn queue(&mut self, span: Finished) {
        let ring = self.ring.get_or_insert_with(|| {
            let ring = Arc::new(Ring::new(provider::queue_per_thread()));
            RINGS.register(ring.clone());
            ring
        });
        if let Some(queued) = ring.push(span)
            && ring.reached_half(queued)
        {
            provider::nudge_collector();
        }
    }
}

/// Makes `frame` current; false when this thread can no longer keep spans
/// (it is exiting).
#[inline]
fn push(frame: Frame) -> bool {
    LOCAL
        .try_with(|local| match local.try_borrow_mut() {
            Ok(mut local) => {
                local.stack.push(frame);
                true
            }
            Err(_) => false,
        })
        .unwrap_or(false)
}

#[inline]
fn pop() -> Option<Frame> {
    LOCAL
        .try_with(|local| local.try_borrow_mut().ok().and_then(|mut l| l.stack.pop()))
        .ok()
        .flatten()
}

#[inline]
fn with_top<R>(f: impl FnOnce(&mut Frame) -> R) -> Option<R> {
    LOCAL
        .try_with(|local| {
            local
                .try_borrow_mut()
                .ok()
                .and_then(|mut l| l.stack.last_mut().map(f))
        })
        .ok()
        .flatten()
}

/// The OpenTelemetry API's current span, if any: (span context).
#[inline]
fn otel_current() -> Option<SpanContext> {
    Context::map_current(|cx| {
        if cx.has_active_span() {
            let sc = cx.span().span_context().clone();
            sc.is_valid().then_some(sc)
        } else {
            None
        }
    })
}

#[inline]
fn otel_span_id(sc: &Option<SpanContext>) -> u64 {
    sc.as_ref()
        .map_or(0, |sc| u64::from_be_bytes(sc.span_id().to_bytes()))
}

/// Where a new span's ids and sampling decision come from.
struct Parent {
    trace_id: u128,
    span_id: u64,
    sampled: bool,
    remote: bool,
}

impl Parent {
    #[inline]
    fn of(sc: &SpanContext) -> Self {
        Self {
            trace_id: u128::from_be_bytes(sc.trace_id().to_bytes()),
            span_id: u64::from_be_bytes(sc.span_id().to_bytes()),
            sampled: sc.is_sampled(),
            remote: sc.is_remote(),
        }
    }
}

/// Builds a frame on this thread: a child of `parent`, or the root of a new
/// trace (with `trace_id` when the trace is already named).
#[inline]
fn make_frame(
    local: &mut Local,
    spec: &'static SpanSpec,
    parent: Option<Parent>,
    new_trace: Option<(u128, Option<bool>)>,
    otel_seen: u64,
) -> Frame {
    let span_id = local.rng.span_id();
    let (trace_id, parent_id, sampled, parent_remote) = match parent {
        Some(p) => (p.trace_id, p.span_id, p.sampled, p.remote),
        None => {
            let (trace_id, decided) = match new_trace {
                Some((trace_id, decided)) => (trace_id, decided),
                None => (trace_id_at(clock::epoch_seconds(), &mut local.rng), None),
            };
            (
                trace_id,
                0,
                decided.unwrap_or_else(|| provider::sample_root(trace_id)),
                false,
            )
        }
    };
    Frame {
        trace_id,
        span_id,
        parent_id,
        sampled,
        parent_remote,
        proxy: false,
        generation: provider::generation(),
        otel_seen,
        spec,
        start: if sampled { clock::ticks() } else { 0 },
        extra: None,
    }
}

#[inline]
fn with_local<R>(f: impl FnOnce(&mut Local) -> R) -> Option<R> {
    LOCAL
        .try_with(|local| local.try_borrow_mut().ok().map(|mut l| f(&mut l)))
        .ok()
        .flatten()
}

/// The parent of a new span on this thread: the innermost open span, or a
/// span made current through the OpenTelemetry API; `None` for a new trace.
#[inline]
fn child_parent(local: &Local) -> (Option<Parent>, u64) {
    // The OpenTelemetry API's current span matters only once that API has
    // made spans through our tracer.
    let otel = if provider::otel_api_used() {
        otel_current()
    } else {
        None
    };
    let otel_id = otel_span_id(&otel);
    let parent = match (local.stack.last(), &otel) {
        // A span made current through the OpenTelemetry API after `top` was
        // pushed is nested inside it: it is the parent.
        (Some(top), Some(sc)) if otel_id != top.otel_seen && otel_id != top.span_id => {
            Some(Parent::of(sc))
        }
        (Some(top), _) => Some(Parent {
            trace_id: top.trace_id,
            span_id: top.span_id,
            sampled: top.sampled,
            remote: false,
        }),
        (None, Some(sc)) => Some(Parent::of(sc)),
        (None, None) => None,
    };
    (parent, otel_id)
}

/// The frame of a new span under whatever is current on this thread.
fn child_frame(spec: &'static SpanSpec) -> Option<Frame> {
    with_local(|local| {
        let (parent, otel_id) = child_parent(local);
        make_frame(local, spec, parent, None, otel_id)
    })
}

/// The frame of a root span: continuing `parent` (an extracted remote
/// context) when it names a trace, else a new trace. The current span, if
/// any, is ignored.
fn root_frame(spec: &'static SpanSpec, parent: Context) -> Option<Frame> {
    let otel_seen = if provider::otel_api_used() {
        otel_span_id(&otel_current())
    } else {
        0
    };
    let sc = parent.span().span_context().clone();
    let incoming = parent.get::<IncomingXray>().map(|i| i.header.trace_id);
    let decided = if provider::parent_based() {
        XraySampler::inherited(&parent)
    } else {
        None
    };
    let mut frame = with_local(|local| {
        if sc.is_valid() {
            let mut from = Parent::of(&sc);
            from.sampled = decided.unwrap_or_else(|| provider::sample_root(from.trace_id));
            make_frame(local, spec, Some(from), None, otel_seen)
        } else if let Some(trace_id) = incoming {
            // A Root-only header (first hop behind a load balancer) names the
            // trace but no parent span: keep its trace id.
            let trace_id = u128::from_be_bytes(trace_id.to_bytes());
            make_frame(local, spec, None, Some((trace_id, decided)), otel_seen)
        } else {
            make_frame(local, spec, None, None, otel_seen)
        }
    })?;
    if sc.is_valid() || incoming.is_some() || !parent.baggage().is_empty() {
        frame.extra().remote = Some(parent);
    }
    Some(frame)
}

/// Collects a span's attributes at entry; only called for sampled spans.
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct Recorder {
    attributes: Vec<KeyValue>,
    annotations: Vec<StringValue>,
}

impl Recorder {
    /// Records an attribute.
    pub fn attr(&mut self, key: &'static str, value: Value) {
        self.attributes.push(KeyValue::new(key, value));
    }

    /// Records an X-Ray annotation: an attribute listed in [`ANNOTATIONS_KEY`].
    pub fn annotation(&mut self, key: &'static str, value: Value) {
        self.attributes.push(KeyValue::new(key, value));
        self.annotations.push(StringValue::from(key));
    }

    fn is_empty(&self) -> bool {
        self.attributes.is_empty() && self.annotations.is_empty()
    }

    fn apply(self, frame: &mut Frame) {
        if self.is_empty() {
            return;
        }
        let extra = frame.extra();
        extra.attributes = self.attributes;
        extra.annotations = self.annotations;
    }
}

fn record_into(frame: &mut Frame, record: impl FnOnce(&mut Recorder)) {
    if frame.sampled {
        let mut recorder = Recorder::default();
        record(&mut recorder);
        recorder.apply(frame);
    }
}

/// The span of a future, started but not yet current: [`Instrumented`]
/// makes it current while the future is polled. Empty when tracing is off.
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct PendingSpan {
    frame: Option<Frame>,
}

impl PendingSpan {
    /// A child of the current span.
    #[inline]
    pub(crate) fn child(spec: &'static SpanSpec, record: impl FnOnce(&mut Recorder)) -> Self {
        if !ENABLED.load(Ordering::Relaxed) {
            return Self::default();
        }
        let frame = child_frame(spec).map(|mut frame| {
            record_into(&mut frame, record);
            frame
        });
        Self { frame }
    }

    /// A new trace, or the continuation of the trace named by `parent`
    /// (an extracted remote context).
    #[inline]
    pub(crate) fn root(
        spec: &'static SpanSpec,
        parent: impl FnOnce() -> Context,
        record: impl FnOnce(&mut Recorder),
    ) -> Self {
        if !ENABLED.load(Ordering::Relaxed) {
            return Self::default();
        }
        let frame = root_frame(spec, parent()).map(|mut frame| {
            record_into(&mut frame, record);
            frame
        });
        Self { frame }
    }
}

/// The current span, as the macros' outcome code sees it: records on the
/// innermost span of this thread when it is this function's.
#[doc(hidden)]
#[derive(Debug)]
pub struct ActiveSpan {
    current: bool,
}

impl ActiveSpan {
    /// Marks the span failed by `error`, with an `exception` event.
    pub fn record_error(&self, error: ErrorInfo) {
        if self.current {
            with_top(|frame| {
                if frame.sampled {
                    frame.record_error(error);
                }
            });
        }
    }

    /// Records the function's return value.
    pub fn record_return(&self, value: Value) {
        if self.current {
            with_top(|frame| {
                if frame.sampled {
                    frame
                        .extra()
                        .attributes
                        .push(KeyValue::new("xray.return", value));
                }
            });
        }
    }
}

/// The span of a synchronous traced call: current until dropped.
#[doc(hidden)]
#[derive(Debug)]
pub struct SpanGuard {
    span: ActiveSpan,
    /// The frame lives on this thread's stack: the guard must stay here.
    _not_send: PhantomData<*const ()>,
}

impl SpanGuard {
    /// A child of the current span, current until the guard drops.
    #[inline(always)]
    pub(crate) fn child(spec: &'static SpanSpec, record: impl FnOnce(&mut Recorder)) -> Self {
        if !ENABLED.load(Ordering::Relaxed) {
            return Self::off();
        }
        Self::enter_child(spec, record)
    }

    /// A root span, current until the guard drops.
    #[inline(always)]
    pub(crate) fn root(
        spec: &'static SpanSpec,
        parent: impl FnOnce() -> Context,
        record: impl FnOnce(&mut Recorder),
    ) -> Self {
        if !ENABLED.load(Ordering::Relaxed) {
            return Self::off();
        }
        Self::enter_root(spec, parent, record)
    }

    #[inline(always)]
    fn off() -> Self {
        Self {
            span: ActiveSpan { current: false },
            _not_send: PhantomData,
        }
    }

    /// Builds the frame in place on this thread's stack: one borrow, no copy.
    #[inline(never)]
    fn enter_child(spec: &'static SpanSpec, record: impl FnOnce(&mut Recorder)) -> Self {
        let sampled = with_local(|local| {
            let (parent, otel_id) = child_parent(local);
            let frame = make_frame(local, spec, parent, None, otel_id);
            let sampled = frame.sampled;
            local.stack.push(frame);
            sampled
        });
        Self::entered(sampled, record)
    }

    #[inline(never)]
    fn enter_root(
        spec: &'static SpanSpec,
        parent: impl FnOnce() -> Context,
        record: impl FnOnce(&mut Recorder),
    ) -> Self {
        let sampled = root_frame(spec, parent()).and_then(|frame| {
            let sampled = frame.sampled;
            push(frame).then_some(sampled)
        });
        Self::entered(sampled, record)
    }

    /// Records the attributes of a frame just pushed (outside the borrow:
    /// they are the user's expressions).
    #[inline]
    fn entered(sampled: Option<bool>, record: impl FnOnce(&mut Recorder)) -> Self {
        match sampled {
            None => Self::off(),
            Some(sampled) => {
                if sampled {
                    let mut recorder = Recorder::default();
                    record(&mut recorder);
                    if recorder.is_empty() {
                        // Nothing was recorded, so nothing was allocated:
                        // skip the drop glue of two empty `Vec`s (a fifth of
                        // a sampled span's instructions).
                        std::mem::forget(recorder);
                    } else {
                        with_top(|frame| recorder.apply(frame));
                    }
                }
                Self {
                    span: ActiveSpan { current: true },
                    _not_send: PhantomData,
                }
            }
        }
    }

    /// The span, to record the outcome on.
    pub fn span(&self) -> &ActiveSpan {
        &self.span
    }

    #[inline(never)]
    fn exit() {
        let flush = with_local(|local| {
            let top = local.stack.last()?;
            if top.proxy || (!top.sampled && !top.spec.flush) {
                // Nothing to record: discard in place.
                local.stack.pop();
                return Some(false);
            }
            let frame = local.stack.pop()?;
            Some(frame.finish_into(local))
        })
        .flatten();
        if flush == Some(true) {
            crate::private::flush_invocation();
        }
    }
}

impl Drop for SpanGuard {
    #[inline(always)]
    fn drop(&mut self) {
        if self.span.current {
            Self::exit();
        }
    }
}

/// A future run inside a span: the span is current during every poll and
/// ends when the future completes or is dropped.
///
/// Nothing thread-bound is held between polls, so the future stays `Send`
/// when the wrapped future is.
#[doc(hidden)]
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Instrumented<F, O> {
    future: F,
    frame: Option<Frame>,
    on_outcome: Option<O>,
}

impl<F, O> Instrumented<F, O>
where
    F: Future,
    O: FnOnce(&ActiveSpan, &F::Output),
{
    pub(crate) fn new(span: PendingSpan, future: F, on_outcome: O) -> Self {
        Self {
            future,
            frame: span.frame,
            on_outcome: Some(on_outcome),
        }
    }
}

/// Takes the frame back off the stack when a poll ends, even by a panic.
struct PollGuard<'a> {
    slot: &'a mut Option<Frame>,
}

impl Drop for PollGuard<'_> {
    fn drop(&mut self) {
        *self.slot = pop();
    }
}

impl<F, O> Future for Instrumented<F, O>
where
    F: Future,
    O: FnOnce(&ActiveSpan, &F::Output),
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is structurally pinned: it is never moved out of
        // `self`, and `Instrumented` is `Unpin` only when `F` is. The other
        // fields are not pinned and are only used through `&mut`.
        let this = unsafe { self.get_unchecked_mut() };
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        let Some(frame) = this.frame.take() else {
            return future.poll(task);
        };
        if !push_or_keep(frame, &mut this.frame) {
            return future.poll(task);
        }
        let guard = PollGuard {
            slot: &mut this.frame,
        };
        let output = future.poll(task);
        if let Poll::Ready(value) = &output
            && let Some(on_outcome) = this.on_outcome.take()
        {
            on_outcome(&ActiveSpan { current: true }, value);
        }
        drop(guard);
        if output.is_ready()
            && let Some(frame) = this.frame.take()
        {
            frame.finish();
        }
        output
    }
}

/// Pushes `frame`, or puts it back in `slot` when this thread cannot.
fn push_or_keep(frame: Frame, slot: &mut Option<Frame>) -> bool {
    let mut frame = Some(frame);
    let pushed = with_local(|local| {
        if let Some(frame) = frame.take() {
            local.stack.push(frame);
        }
    })
    .is_some();
    if !pushed {
        *slot = frame;
    }
    pushed
}

impl<F, O> Drop for Instrumented<F, O> {
    fn drop(&mut self) {
        if let Some(mut frame) = self.frame.take() {
            // Dropped before completion, and not by a panic: the caller gave up.
            if !std::thread::panicking() && frame.sampled {
                frame
                    .extra()
                    .attributes
                    .push(KeyValue::new(CANCELLED_KEY, true));
            }
            frame.finish();
        }
    }
}

/// An error as the span records it.
#[doc(hidden)]
#[derive(Debug)]
pub struct ErrorInfo {
    /// The error's type name.
    pub type_name: &'static str,
    /// Its `Display` (or `Debug`) text.
    pub message: String,
    /// The `source()` chain, outermost first.
    pub causes: Vec<String>,
}

/// On a span whose error was recorded (with its `exception` event) by a
/// descendant: the id of the span that holds the event, as X-Ray's cause id.
pub const EXCEPTION_ORIGIN_KEY: &str = "xray.exception.span_id";

/// The last error recorded on this thread, to recognise it when it bubbles up.
struct LastException {
    type_name: &'static str,
    message: String,
    /// The parent of the span that recorded it: the next level up.
    recorder_parent: u64,
    /// The span holding the `exception` event.
    origin: u64,
}

thread_local! {
    static LAST_EXCEPTION: RefCell<Option<LastException>> = const { RefCell::new(None) };
}

struct PanicRecord {
    message: String,
    location: Option<(String, u32)>,
}

thread_local! {
    static LAST_PANIC: RefCell<Option<PanicRecord>> = const { RefCell::new(None) };
}

/// Remembers each panic's message and location for the spans it unwinds
/// through, then runs the previous hook. Installed once, by `init`.
pub(crate) fn install_panic_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "Box<dyn Any>".to_string());
            let location = info.location().map(|l| (l.file().to_string(), l.line()));
            let _ = LAST_PANIC.try_with(|last| {
                if let Ok(mut last) = last.try_borrow_mut() {
                    *last = Some(PanicRecord { message, location });
                }
            });
            previous(info);
        }));
    });
}

// ---------------------------------------------------------------------------
// The current span, for propagation and the OpenTelemetry API.

/// The current span's context: the innermost traced span on this thread, or
/// a span made current through the OpenTelemetry API inside it.
pub(crate) fn current_span_context() -> Option<SpanContext> {
    let otel = otel_current();
    let otel_id = otel_span_id(&otel);
    let ours = LOCAL
        .try_with(|local| {
            let local = local.try_borrow().ok()?;
            let top = local.stack.last()?;
            if otel.is_some() && otel_id != top.otel_seen && otel_id != top.span_id {
                return None;
            }
            Some(top.span_context())
        })
        .ok()
        .flatten();
    ours.or(otel)
}

/// The caller's context a root span on the stack continues, for the lineage
/// and baggage it carries.
fn current_remote() -> Option<Context> {
    LOCAL
        .try_with(|local| {
            let local = local.try_borrow().ok()?;
            local.stack.iter().rev().find_map(|f| f.remote().cloned())
        })
        .ok()
        .flatten()
}

/// `cx` with the current traced span as its span, when `cx` has none: what
/// the global tracer and propagator use.
pub(crate) fn with_current_span(cx: &Context) -> Option<Context> {
    if cx.has_active_span() {
        return None;
    }
    let sc = current_span_context()?;
    let base = current_remote().unwrap_or_else(|| cx.clone());
    Some(base.with_remote_span_context(sc))
}

/// The current context as an OpenTelemetry [`Context`]: the traced span (if
/// any) as its active span, with the baggage and X-Ray lineage of the trace.
/// Pass it to OpenTelemetry APIs that take an explicit context.
pub fn current_context() -> Context {
    let cx = Context::current();
    with_current_span(&cx).unwrap_or(cx)
}

/// The current trace id in X-Ray form (`1-5759e988-bd862e3fe1be46a994272793`),
/// for log correlation; `None` outside a span.
///
/// ```
/// assert_eq!(xray_runtime::current_trace_id(), None);
/// ```
pub fn current_trace_id() -> Option<String> {
    current_span_context().map(|sc| xray_trace_id(sc.trace_id()))
}

/// The current span id (16 hex digits); `None` outside a span.
pub fn current_span_id() -> Option<String> {
    current_span_context().map(|sc| sc.span_id().to_string())
}

/// The `X-Amzn-Trace-Id` header value that continues the current trace in
/// another service (`Root=...;Parent=...;Sampled=1`); `None` outside a span.
///
/// ```
/// assert_eq!(xray_runtime::current_trace_header(), None);
/// ```
pub fn current_trace_header() -> Option<String> {
    let sc = current_span_context()?;
    let lineage = current_remote()
        .and_then(|cx| {
            cx.get::<IncomingXray>()
                .and_then(|i| i.header.lineage.clone())
        })
        .or_else(|| {
            Context::map_current(|cx| {
                cx.get::<IncomingXray>()
                    .and_then(|i| i.header.lineage.clone())
            })
        });
    let header = XrayHeader {
        trace_id: sc.trace_id(),
        parent_id: Some(sc.span_id()),
        sampling: if sc.is_sampled() {
            Sampling::Sampled
        } else {
            Sampling::NotSampled
        },
        lineage,
    };
    Some(header.to_header_value())
}

/// Applies `f` to the current traced span when it is sampled, else to the
/// OpenTelemetry API's current span when that one is recording.
fn on_current(
    frame_f: impl FnOnce(&mut Frame),
    otel_f: impl FnOnce(&opentelemetry::trace::SpanRef<'_>),
) {
    let mut frame_f = Some(frame_f);
    let handled = with_top(|frame| {
        if frame.sampled
            && let Some(f) = frame_f.take()
        {
            f(frame);
        }
    });
    if handled.is_none() {
        Context::map_current(|cx| {
            let span = cx.span();
            if span.is_recording() {
                otel_f(&span);
            }
        });
    }
}

/// Sets an attribute on the current span (nothing outside a span or when the
/// span is not sampled).
///
/// ```
/// xray_runtime::set_attribute("order.id", 42u64);
/// ```
pub fn set_attribute(key: impl Into<Key>, value: impl AttributeValue) {
    let kv = KeyValue::new(key, value.to_value());
    let otel_kv = kv.clone();
    on_current(
        |frame| frame.extra().attributes.push(kv),
        |span| span.set_attribute(otel_kv),
    );
}

/// Why [`annotate`] refused a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidAnnotationKey(pub String);

impl std::fmt::Display for InvalidAnnotationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invalid X-Ray annotation key {:?}: use 1 to 500 ASCII letters, digits or underscores",
            self.0
        )
    }
}

impl std::error::Error for InvalidAnnotationKey {}

/// Whether `key` is a valid X-Ray annotation key.
pub fn is_valid_annotation_key(key: &str) -> bool {
    (1..=500).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Adds an X-Ray annotation (indexed, searchable) to the current span.
///
/// Values are strings, booleans, integers or floats; anything else does not
/// compile. A key that X-Ray would reject is refused here instead.
///
/// ```
/// xray_runtime::annotate("tier", "gold").unwrap();
/// assert!(xray_runtime::annotate("not valid", 1).is_err());
/// ```
pub fn annotate(key: &str, value: impl AnnotationValue) -> Result<(), InvalidAnnotationKey> {
    if !is_valid_annotation_key(key) {
        return Err(InvalidAnnotationKey(key.to_string()));
    }
    let value = value.to_annotation();
    let key = key.to_string();
    let (otel_key, otel_value) = (key.clone(), value.clone());
    on_current(
        |frame| {
            let extra = frame.extra();
            extra.attributes.push(KeyValue::new(key.clone(), value));
            let key = StringValue::from(key);
            if !extra.annotations.contains(&key) {
                extra.annotations.push(key);
            }
        },
        |span| {
            span.set_attribute(KeyValue::new(otel_key.clone(), otel_value));
            // Several lists on one span are merged into one at export.
            let list = Value::Array(opentelemetry::Array::String(vec![otel_key.into()]));
            span.set_attribute(KeyValue::new(ANNOTATIONS_KEY, list));
        },
    );
    Ok(())
}

/// Records `error` on the current span: status Error with its message and an
/// `exception` event (type, message, causes).
///
/// ```
/// let err = std::io::Error::other("disk full");
/// xray_runtime::record_error(&err);
/// ```
pub fn record_error<E: std::error::Error + ?Sized>(error: &E) {
    let info = ErrorInfo {
        type_name: std::any::type_name::<E>(),
        message: error.to_string(),
        causes: crate::private::error_causes(error),
    };
    let message = info.message.clone();
    let type_name = info.type_name;
    on_current(
        |frame| frame.record_error(info),
        |span| {
            span.set_status(Status::error(message.clone()));
            span.add_event(
                "exception",
                vec![
                    KeyValue::new("exception.type", type_name),
                    KeyValue::new("exception.message", message),
                ],
            );
        },
    );
}

/// Adds an event to the current span.
///
/// ```
/// xray_runtime::add_event("cache.miss", [("cache.key", "user:7")]);
/// ```
pub fn add_event<K, V>(
    name: impl Into<Cow<'static, str>>,
    attributes: impl IntoIterator<Item = (K, V)>,
) where
    K: Into<Key>,
    V: AttributeValue,
{
    let name = name.into();
    let attributes: Vec<KeyValue> = attributes
        .into_iter()
        .map(|(k, v)| KeyValue::new(k, v.to_value()))
        .collect();
    let (otel_name, otel_attributes) = (name.clone(), attributes.clone());
    on_current(
        |frame| {
            frame.extra().events.push(RawEvent {
                name,
                at: clock::ticks(),
                attributes,
            })
        },
        |span| span.add_event(otel_name, otel_attributes),
    );
}

// ---------------------------------------------------------------------------
// Carrying the current span to other threads and tasks.

/// The span that is current where this handle was taken, to make it the
/// parent of work done on another thread or task.
///
/// Spans are current per thread, so work moved elsewhere (a spawned task, a
/// thread, a blocking pool) starts without a parent unless it is carried:
/// [`spawn`](crate::spawn), [`spawn_blocking`](crate::spawn_blocking) and
/// [`thread::spawn`](crate::thread::spawn) do it for you.
///
/// ```
/// use xray_runtime::traced;
///
/// #[traced]
/// fn fan_out() -> u32 {
///     let parent = xray_runtime::current_span();
///     std::thread::spawn(move || parent.in_scope(work)).join().unwrap()
/// }
///
/// #[traced]
/// fn work() -> u32 {
///     7
/// }
///
/// let capture = xray_runtime::testing::capture();
/// fan_out();
/// let (parent, child) = (capture.span("fan_out"), capture.span("work"));
/// assert_eq!(child.parent_span_id.as_deref(), Some(parent.span_id.as_str()));
/// ```
#[derive(Clone, Debug, Default)]
pub struct SpanHandle {
    parent: Option<Carried>,
}

#[derive(Clone, Debug)]
struct Carried {
    trace_id: u128,
    span_id: u64,
    sampled: bool,
    remote: Option<Context>,
}

/// The current span, to carry to another thread or task.
pub fn current_span() -> SpanHandle {
    let parent = current_span_context().map(|sc| Carried {
        trace_id: u128::from_be_bytes(sc.trace_id().to_bytes()),
        span_id: u64::from_be_bytes(sc.span_id().to_bytes()),
        sampled: sc.is_sampled(),
        remote: current_remote(),
    });
    SpanHandle { parent }
}

static PROXY: SpanSpec = SpanSpec {
    name: "",
    kind: SpanKind::Internal,
    flush: false,
};

impl SpanHandle {
    fn proxy_frame(&self) -> Option<Frame> {
        let parent = self.parent.as_ref()?;
        let extra = parent.remote.clone().map(|remote| {
            Box::new(Extra {
                remote: Some(remote),
                ..Extra::default()
            })
        });
        Some(Frame {
            trace_id: parent.trace_id,
            span_id: parent.span_id,
            parent_id: 0,
            sampled: parent.sampled,
            parent_remote: false,
            proxy: true,
            generation: provider::generation(),
            otel_seen: 0,
            spec: &PROXY,
            start: 0,
            extra,
        })
    }

    /// Runs `f` with this span as the current span: spans `f` starts are its
    /// children.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Pop(bool);
        impl Drop for Pop {
            fn drop(&mut self) {
                if self.0 {
                    let _ = pop();
                }
            }
        }
        let _pop = Pop(self.proxy_frame().is_some_and(push));
        f()
    }

    /// Wraps `future` so that this span is current whenever it is polled.
    pub fn instrument<F: Future>(self, future: F) -> WithSpan<F> {
        WithSpan {
            future,
            handle: self,
        }
    }
}

/// A future polled with a carried span as the current span; see
/// [`SpanHandle::instrument`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct WithSpan<F> {
    future: F,
    handle: SpanHandle,
}

impl<F: Future> Future for WithSpan<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is structurally pinned and never moved; `handle`
        // is only read.
        let this = unsafe { self.get_unchecked_mut() };
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        this.handle.in_scope(|| future.poll(task))
    }
}

// ---------------------------------------------------------------------------
// Spans that are not one function call.

static DYNAMIC: SpanSpec = SpanSpec {
    name: "",
    kind: SpanKind::Internal,
    flush: false,
};

/// A span for work that is not one function call: a request handled by
/// middleware, a message consumed from a queue. Its name is decided at run
/// time. It becomes current in [`Span::in_scope`] or while the future given to
/// [`Span::instrument`] is polled, and ends when dropped (or when that
/// future completes).
///
/// ```
/// use xray_runtime::{Span, SpanKind};
///
/// let capture = xray_runtime::testing::capture();
/// let mut span = Span::root("GET /orders/{id}", SpanKind::Server, &xray_runtime::Context::new());
/// span.set_attribute("http.request.method", "GET");
/// let trace_id = span.in_scope(|| xray_runtime::current_trace_id());
/// drop(span);
/// let recorded = capture.span("GET /orders/{id}");
/// assert_eq!(Some(recorded.trace_id.clone()), trace_id);
/// assert_eq!(recorded.attr_str("http.request.method"), Some("GET"));
/// ```
#[derive(Debug, Default)]
pub struct Span {
    frame: Option<Frame>,
}

impl Span {
    fn named(frame: Option<Frame>, name: Cow<'static, str>, kind: SpanKind) -> Self {
        let frame = frame.map(|mut frame| {
            if frame.sampled {
                let extra = frame.extra();
                extra.name = Some(name);
                extra.kind = Some(kind);
            }
            frame
        });
        Self { frame }
    }

    /// A child of the current span (or a new trace when there is none).
    pub fn child(name: impl Into<Cow<'static, str>>, kind: SpanKind) -> Self {
        if !ENABLED.load(Ordering::Relaxed) {
            return Self::default();
        }
        Self::named(child_frame(&DYNAMIC), name.into(), kind)
    }

    /// A root span: continuing the remote trace in `parent` (a context a
    /// propagator extracted) when it names one, else a new trace. The current
    /// span, if any, is ignored.
    pub fn root(name: impl Into<Cow<'static, str>>, kind: SpanKind, parent: &Context) -> Self {
        if !ENABLED.load(Ordering::Relaxed) {
            return Self::default();
        }
        Self::named(root_frame(&DYNAMIC, parent.clone()), name.into(), kind)
    }

    /// Whether the span is recorded (sampled); attributes of an unrecorded
    /// span are not kept.
    pub fn is_recording(&self) -> bool {
        self.frame.as_ref().is_some_and(|frame| frame.sampled)
    }

    /// Sets an attribute.
    pub fn set_attribute(&mut self, key: impl Into<Key>, value: impl AttributeValue) {
        if let Some(frame) = self.frame.as_mut().filter(|frame| frame.sampled) {
            frame
                .extra()
                .attributes
                .push(KeyValue::new(key, value.to_value()));
        }
    }

    /// Marks the span failed, without an `exception` event (for outcomes
    /// that are failures without an error value, such as an HTTP 5xx).
    pub fn set_error(&mut self, description: impl Into<Cow<'static, str>>) {
        if let Some(frame) = self.frame.as_mut().filter(|frame| frame.sampled) {
            frame.extra().status = Status::error(description);
        }
    }

    /// Records `error`: status Error with its message and an `exception`
    /// event (type, message, causes).
    pub fn record_error<E: std::error::Error + ?Sized>(&mut self, error: &E) {
        if let Some(frame) = self.frame.as_mut().filter(|frame| frame.sampled) {
            frame.record_error(ErrorInfo {
                type_name: std::any::type_name::<E>(),
                message: error.to_string(),
                causes: crate::private::error_causes(error),
            });
        }
    }

    /// Adds an event, timestamped now.
    pub fn add_event<K, V>(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        attributes: impl IntoIterator<Item = (K, V)>,
    ) where
        K: Into<Key>,
        V: AttributeValue,
    {
        if let Some(frame) = self.frame.as_mut().filter(|frame| frame.sampled) {
            let attributes = attributes
                .into_iter()
                .map(|(k, v)| KeyValue::new(k, v.to_value()))
                .collect();
            frame.extra().events.push(RawEvent {
                name: name.into(),
                at: clock::ticks(),
                attributes,
            });
        }
    }

    /// The span's context (trace id, span id, sampling decision), for
    /// propagation; invalid when tracing is off.
    pub fn span_context(&self) -> SpanContext {
        self.frame
            .as_ref()
            .map_or(SpanContext::NONE, Frame::span_context)
    }

    /// The X-Ray trace id of the span (`1-...`), `None` when tracing is off.
    pub fn trace_id(&self) -> Option<String> {
        self.frame
            .as_ref()
            .map(|frame| xray_trace_id(TraceId::from(frame.trace_id)))
    }

    /// Runs `f` with this span current.
    pub fn in_scope<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let Some(frame) = self.frame.take() else {
            return f();
        };
        if !push_or_keep(frame, &mut self.frame) {
            return f();
        }
        let _back = PollGuard {
            slot: &mut self.frame,
        };
        f()
    }

    /// Runs `future` with this span current while it is polled; the span ends
    /// when the future completes, or is marked cancelled if it is dropped
    /// first. `on_output` runs with the span current once the output is
    /// there (to record a status code, say, with [`set_attribute`] and
    /// [`set_status_error`]).
    pub fn instrument<F, O>(
        mut self,
        future: F,
        on_output: O,
    ) -> Instrumented<F, impl FnOnce(&ActiveSpan, &F::Output)>
    where
        F: Future,
        O: FnOnce(&F::Output),
    {
        Instrumented::new(
            PendingSpan {
                frame: self.frame.take(),
            },
            future,
            move |_: &ActiveSpan, output: &F::Output| on_output(output),
        )
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        if let Some(frame) = self.frame.take() {
            frame.finish();
        }
    }
}

/// Marks the current span failed, without an `exception` event (an outcome
/// that is a failure without an error value, such as an HTTP 5xx).
pub fn set_status_error(description: impl Into<Cow<'static, str>>) {
    let description = description.into();
    let otel_description = description.clone();
    on_current(
        |frame| frame.extra().status = Status::error(description),
        |span| span.set_status(Status::error(otel_description)),
    );
}
