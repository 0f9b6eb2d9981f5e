//! Each thread's stack of open spans, and how a new span's ids and sampling
//! decision are derived from what is current.
//!
//! A frame is an open span: trace id, span id, parent, sampling decision and
//! start time. The innermost frame of a thread is its current span. Ending a
//! sampled frame queues a [`Finished`] record into the thread's queue for
//! the export thread; an unsampled frame reads no clock and is never queued,
//! yet its ids stay available for propagation. A sampled span that cannot be
//! queued (the queue is full, tracing was shut down or re-installed, the
//! thread is exiting) is counted as lost.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use opentelemetry::Context;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};

use crate::clock;
use crate::id::{Rng, trace_id_at};
use crate::propagation::IncomingXray;
use crate::queue::{Producer, Pushed};
use crate::record::{Extra, Finished, SpanSpec};
use crate::sampler::{self, RootDecision, RootRequest, RulesCache};
use crate::span::error::{self, ErrorInfo};
use crate::state::{self, ENABLED};
use crate::stats::{self, Loss, ThreadSpans};

/// An open span, on its thread's stack while it is current.
#[derive(Debug)]
pub(crate) struct Frame {
    pub(crate) trace_id: u128,
    pub(crate) span_id: u64,
    pub(crate) parent_id: u64,
    /// Recorded: sampled, or held (see `held`).
    pub(crate) sampled: bool,
    /// Recorded but not sampled: the trace is held until its root ends,
    /// when adaptive sampling may still capture it. Callers are told it is
    /// not sampled.
    held: bool,
    parent_remote: bool,
    /// Stands for a span of another thread or task (see `SpanHandle`):
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

/// The spec of frames that stand for another thread's span.
static PROXY: SpanSpec = SpanSpec {
    name: "",
    kind: opentelemetry::trace::SpanKind::Internal,
    flush: false,
};

impl Frame {
    /// A frame standing for a span of another thread or task, so that spans
    /// started here nest under it.
    pub(crate) fn proxy(
        trace_id: u128,
        span_id: u64,
        sampled: bool,
        remote: Option<Context>,
    ) -> Self {
        let extra = remote.map(|remote| {
            Box::new(Extra {
                remote: Some(remote),
                ..Extra::default()
            })
        });
        Self {
            trace_id,
            span_id,
            parent_id: 0,
            sampled,
            held: false,
            parent_remote: false,
            proxy: true,
            generation: state::generation(),
            otel_seen: 0,
            spec: &PROXY,
            start: 0,
            extra,
        }
    }

    /// Keeps what a root needs from its sampling rule: the rule's name (an
    /// attribute) and, when the export thread must report how the trace
    /// ends, the rule itself.
    #[inline]
    fn note_decision(&mut self, decision: RootDecision) {
        if let Some(rule) = decision.rule.filter(|_| decision.records()) {
            self.extra().sampling_rule = Some(rule);
        }
        if decision.deciding.is_some() {
            self.extra().deciding_rule = decision.deciding;
        }
    }

    /// Sampled, not merely recorded: what callers and exemplars are told.
    pub(crate) fn is_exported(&self) -> bool {
        self.sampled && !self.held
    }

    /// What the span records beyond its ids, allocated on first use.
    pub(crate) fn extra(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }

    /// The caller's context, for a root continuing a remote trace.
    pub(crate) fn remote(&self) -> Option<&Context> {
        self.extra.as_ref().and_then(|extra| extra.remote.as_ref())
    }

    pub(crate) fn span_context(&self) -> SpanContext {
        let flags = if self.sampled && !self.held {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        SpanContext::new(
            TraceId::from(self.trace_id),
            SpanId::from(self.span_id),
            flags,
            false,
            self.trace_state().unwrap_or_default(),
        )
    }

    /// The W3C trace state of the remote trace this span continues.
    fn trace_state(&self) -> Option<TraceState> {
        self.remote()
            .map(|cx| cx.span().span_context().trace_state().clone())
    }

    pub(crate) fn record_error(&mut self, error: ErrorInfo) {
        let (span_id, parent_id) = (self.span_id, self.parent_id);
        error::record_error(self.extra(), span_id, parent_id, error);
    }

    /// Ends the span (taken off the stack): queues it for export when sampled.
    pub(crate) fn finish(self) {
        let counted = !self.proxy && self.sampled;
        match with_local(|local| self.finish_into(local, accepting())) {
            Some(true) => flush_invocation(),
            Some(false) => {}
            // The thread's state is gone: it is exiting.
            None if counted => {
                stats::span_ended_without_thread();
                stats::lose(Loss::EndedTooLate, 1);
            }
            None => {}
        }
    }

    /// Whether ending this frame has nothing to record: it can be discarded
    /// in place.
    #[inline]
    fn ends_silently(&self) -> bool {
        self.proxy || (!self.sampled && !self.spec.flush)
    }

    /// Ends the span inside a borrow of this thread's state; returns whether
    /// the provider must be flushed now (a Lambda invocation ended). Spans
    /// are queued only while installation `accepting` runs (`None` after
    /// shutdown); others are counted as lost.
    #[inline]
    fn finish_into(mut self, local: &mut Local, accepting: Option<u32>) -> bool {
        if self.proxy {
            return false;
        }
        if self.sampled {
            if std::thread::panicking() {
                error::record_panic(self.extra());
            }
            local.span_ended();
            if accepting.is_none() {
                stats::lose(Loss::EndedTooLate, 1);
            } else if accepting != Some(self.generation) {
                stats::lose(Loss::Superseded, 1);
            } else {
                let trace_state = self.trace_state();
                if let Some(extra) = self.extra.as_deref_mut()
                    && let Some(rule) = extra.sampling_rule.take()
                {
                    extra.attributes.push(sampler::rule_attribute(rule));
                }
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
                    held: self.held,
                });
            }
        }
        self.spec.flush
    }
}

/// Flushes after a Lambda invocation's root span ended.
fn flush_invocation() {
    if let Err(err) = state::flush_active() {
        eprintln!("xray: {err}");
    }
}

/// The installation whose spans are queued now: `None` once tracing is off.
#[inline]
fn accepting() -> Option<u32> {
    ENABLED.load(Ordering::Relaxed).then(state::generation)
}

/// Per-thread state: the stack of open spans and the queue of finished ones.
pub(crate) struct Local {
    pub(crate) stack: Vec<Frame>,
    outbox: Option<Outbox>,
    rng: Rng,
    /// Spans are not recorded on this thread (the export threads: they
    /// must not trace themselves).
    suppressed: bool,
    /// This thread's copy of the sampling rules.
    rules: RulesCache,
}

/// This thread's end of the export queue, and its span counts.
struct Outbox {
    producer: Producer<Finished>,
    spans: Arc<ThreadSpans>,
    started: u64,
    ended: u64,
}

impl Outbox {
    fn register() -> Self {
        Self {
            producer: state::register_queue(),
            spans: ThreadSpans::register(),
            started: 0,
            ended: 0,
        }
    }
}

thread_local! {
    static LOCAL: RefCell<Local> = const {
        RefCell::new(Local {
            stack: Vec::new(),
            outbox: None,
            rng: Rng::new(),
            suppressed: false,
            rules: RulesCache::new(),
        })
    };
}

impl Local {
    #[inline]
    fn outbox(&mut self) -> &mut Outbox {
        self.outbox.get_or_insert_with(Outbox::register)
    }

    #[inline]
    fn span_started(&mut self) {
        let outbox = self.outbox();
        outbox.started += 1;
        outbox.spans.publish(outbox.started, outbox.ended);
    }

    #[inline]
    fn span_ended(&mut self) {
        let outbox = self.outbox();
        outbox.ended += 1;
        outbox.spans.publish(outbox.started, outbox.ended);
    }

    #[inline]
    fn queue(&mut self, span: Finished) {
        match self.outbox().producer.push(span) {
            Ok(Pushed::Queued) => {}
            Ok(Pushed::QueuedInNewBlock) => state::block_filled(),
            // Counted by the queue, collected by the export thread.
            Err(_) => state::queue_starved(),
        }
    }
}

/// Stops recording spans made on this thread (an export thread's spans
/// would feed themselves to the exporter).
pub(crate) fn suppress_this_thread() {
    with_local(|local| local.suppressed = true);
}

/// Whether this thread records no spans.
pub(crate) fn is_suppressed() -> bool {
    read_local(|local| Some(local.suppressed)).unwrap_or(false)
}

/// In the child after `fork()`: this thread's queue was the parent's; the
/// next span registers a new one.
pub(crate) fn forget_queue_after_fork() {
    with_local(|local| local.outbox = None);
}

/// Runs `f` on this thread's state; `None` when the thread can no longer
/// keep spans (it is exiting) or the state is already borrowed.
#[inline]
pub(crate) fn with_local<R>(f: impl FnOnce(&mut Local) -> R) -> Option<R> {
    LOCAL
        .try_with(|local| local.try_borrow_mut().ok().map(|mut l| f(&mut l)))
        .ok()
        .flatten()
}

/// Reads this thread's state without borrowing it mutably.
#[inline]
pub(crate) fn read_local<R>(f: impl FnOnce(&Local) -> Option<R>) -> Option<R> {
    LOCAL
        .try_with(|local| local.try_borrow().ok().and_then(|l| f(&l)))
        .ok()
        .flatten()
}

/// Makes `frame` current; false when this thread can no longer keep spans.
#[inline]
pub(crate) fn push(frame: Frame) -> bool {
    with_local(|local| local.stack.push(frame)).is_some()
}

/// Pushes `frame`, or puts it back in `slot` when this thread cannot.
pub(crate) fn push_or_keep(frame: Frame, slot: &mut Option<Frame>) -> bool {
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

#[inline]
pub(crate) fn pop() -> Option<Frame> {
    with_local(|local| local.stack.pop()).flatten()
}

/// Takes the current frame back off the stack into `slot` when dropped:
/// after a poll or a scope, even one ended by a panic.
pub(crate) struct PopInto<'a> {
    pub(crate) slot: &'a mut Option<Frame>,
}

impl Drop for PopInto<'_> {
    fn drop(&mut self) {
        *self.slot = pop();
    }
}

/// Applies `f` to the current frame of this thread.
#[inline]
pub(crate) fn with_top<R>(f: impl FnOnce(&mut Frame) -> R) -> Option<R> {
    with_local(|local| local.stack.last_mut().map(f)).flatten()
}

/// Ends the current frame of this thread (a synchronous span's guard
/// dropping); returns whether a Lambda invocation must be flushed.
#[inline]
pub(crate) fn end_top() {
    let flush = with_local(|local| {
        let top = local.stack.last()?;
        if top.ends_silently() {
            // Nothing to record: discard in place.
            local.stack.pop();
            return Some(false);
        }
        let frame = local.stack.pop()?;
        Some(frame.finish_into(local, accepting()))
    })
    .flatten();
    if flush == Some(true) {
        flush_invocation();
    }
}

/// The OpenTelemetry API's current span, if any.
#[inline]
pub(crate) fn otel_current() -> Option<SpanContext> {
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
pub(crate) fn otel_span_id(sc: &Option<SpanContext>) -> u64 {
    sc.as_ref()
        .map_or(0, |sc| u64::from_be_bytes(sc.span_id().to_bytes()))
}

/// Whether the OpenTelemetry API made `otel_id` current after `top` was
/// pushed, nesting it inside `top`.
#[inline]
pub(crate) fn otel_nested_in(top: &Frame, otel_id: u64) -> bool {
    otel_id != 0 && otel_id != top.otel_seen && otel_id != top.span_id
}

/// Where a new span's ids and sampling decision come from.
struct Parent {
    trace_id: u128,
    span_id: u64,
    sampled: bool,
    held: bool,
    remote: bool,
}

impl Parent {
    #[inline]
    fn of(sc: &SpanContext) -> Self {
        Self {
            trace_id: u128::from_be_bytes(sc.trace_id().to_bytes()),
            span_id: u64::from_be_bytes(sc.span_id().to_bytes()),
            sampled: sc.is_sampled(),
            held: false,
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
    request: &RootRequest<'_>,
    otel_seen: u64,
) -> Frame {
    let span_id = local.rng.span_id();
    let (trace_id, parent_id, sampled, held, parent_remote, extra) = match parent {
        Some(p) => (p.trace_id, p.span_id, p.sampled, p.held, p.remote, None),
        None => {
            let (trace_id, decided) = match new_trace {
                Some((trace_id, decided)) => (trace_id, decided),
                None => (trace_id_at(clock::epoch_seconds(), &mut local.rng), None),
            };
            match decided.or_else(|| sampler::plain_root(trace_id)) {
                Some(sampled) => (trace_id, 0, sampled, false, false, None),
                None => {
                    let (sampled, held, extra) = root_by_rules(trace_id, request, &mut local.rules);
                    (trace_id, 0, sampled, held, false, extra)
                }
            }
        }
    };
    if sampled {
        local.span_started();
    }
    Frame {
        trace_id,
        span_id,
        parent_id,
        sampled,
        held,
        parent_remote,
        proxy: false,
        generation: state::generation(),
        otel_seen,
        spec,
        start: if sampled { clock::ticks() } else { 0 },
        extra,
    }
}

/// A new trace decided by the sampling rules: whether it is recorded, held,
/// and what its frame keeps of the rule.
#[inline(never)]
fn root_by_rules(
    trace_id: u128,
    request: &RootRequest<'_>,
    rules: &mut RulesCache,
) -> (bool, bool, Option<Box<Extra>>) {
    let decision = sampler::sample_root(trace_id, request, rules);
    (decision.records(), decision.held, decision_extra(decision))
}

/// What a root keeps of its sampling rule (see [`Frame::note_decision`]),
/// when it keeps anything.
#[inline]
fn decision_extra(decision: RootDecision) -> Option<Box<Extra>> {
    let rule = decision.rule.filter(|_| decision.records());
    if rule.is_none() && decision.deciding.is_none() {
        return None;
    }
    Some(Box::new(Extra {
        sampling_rule: rule,
        deciding_rule: decision.deciding,
        ..Extra::default()
    }))
}

/// The parent of a new span on this thread: the innermost open span, or a
/// span made current through the OpenTelemetry API; `None` for a new trace.
#[inline]
fn child_parent(local: &Local) -> (Option<Parent>, u64) {
    // The OpenTelemetry API's current span matters only once that API has
    // made spans through our tracer.
    let otel = if state::otel_api_used() {
        otel_current()
    } else {
        None
    };
    let otel_id = otel_span_id(&otel);
    let parent = match (local.stack.last(), &otel) {
        // A span made current through the OpenTelemetry API after `top` was
        // pushed is nested inside it: it is the parent.
        (Some(top), Some(sc)) if otel_nested_in(top, otel_id) => Some(Parent::of(sc)),
        (Some(top), _) => Some(Parent {
            trace_id: top.trace_id,
            span_id: top.span_id,
            sampled: top.sampled,
            held: top.held,
            remote: false,
        }),
        (None, Some(sc)) => Some(Parent::of(sc)),
        (None, None) => None,
    };
    (parent, otel_id)
}

/// The frame of a new span under whatever is current on this thread.
pub(crate) fn child_frame(spec: &'static SpanSpec) -> Option<Frame> {
    with_local(|local| {
        if local.suppressed {
            return None;
        }
        let (parent, otel_id) = child_parent(local);
        Some(make_frame(
            local,
            spec,
            parent,
            None,
            &RootRequest::NONE,
            otel_id,
        ))
    })
    .flatten()
}

/// Starts a child of whatever is current and pushes it, in one borrow of
/// this thread's state; returns its sampling decision, `None` when this
/// thread can no longer keep spans.
#[inline]
pub(crate) fn push_child(spec: &'static SpanSpec) -> Option<bool> {
    with_local(|local| {
        if local.suppressed {
            return None;
        }
        let (parent, otel_id) = child_parent(local);
        let frame = make_frame(local, spec, parent, None, &RootRequest::NONE, otel_id);
        let sampled = frame.sampled;
        local.stack.push(frame);
        Some(sampled)
    })
    .flatten()
}

/// The frame of a root span: continuing `parent` (an extracted remote
/// context) when it names a trace, else a new trace, decided with what
/// `request` says the root is about. The current span, if any, is ignored.
pub(crate) fn root_frame(
    spec: &'static SpanSpec,
    parent: Context,
    request: &RootRequest<'_>,
) -> Option<Frame> {
    let otel_seen = if state::otel_api_used() {
        otel_span_id(&otel_current())
    } else {
        0
    };
    let sc = parent.span().span_context().clone();
    let incoming = parent.get::<IncomingXray>().map(|i| i.header.trace_id);
    let decided = if sampler::parent_based() {
        sampler::inherited(&parent)
    } else {
        None
    };
    let mut frame = with_local(|local| {
        if local.suppressed {
            return None;
        }
        Some(if sc.is_valid() {
            let mut from = Parent::of(&sc);
            let decision = match decided {
                Some(sampled) => RootDecision::plain(sampled),
                None => sampler::sample_root(from.trace_id, request, &mut local.rules),
            };
            from.sampled = decision.records();
            from.held = decision.held;
            let mut frame = make_frame(local, spec, Some(from), None, request, otel_seen);
            if decided.is_none() {
                frame.note_decision(decision);
            }
            frame
        } else if let Some(trace_id) = incoming {
            // A Root-only header (first hop behind a load balancer) names the
            // trace but no parent span: keep its trace id.
            let trace_id = u128::from_be_bytes(trace_id.to_bytes());
            make_frame(
                local,
                spec,
                None,
                Some((trace_id, decided)),
                request,
                otel_seen,
            )
        } else {
            make_frame(local, spec, None, None, request, otel_seen)
        })
    })
    .flatten()?;
    if sc.is_valid() || incoming.is_some() || !parent.baggage().is_empty() {
        frame.extra().remote = Some(parent);
    }
    Some(frame)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::{self, Consumer, Pool};

    static SPEC: SpanSpec = SpanSpec {
        name: "test",
        kind: opentelemetry::trace::SpanKind::Internal,
        flush: false,
    };

    fn local() -> (Local, Consumer<Finished>) {
        let pool: &'static Pool<Finished> = Box::leak(Box::new(Pool::new(4)));
        let (producer, consumer) = queue::queue(pool);
        let local = Local {
            stack: Vec::new(),
            outbox: Some(Outbox {
                producer,
                spans: Arc::new(ThreadSpans::default()),
                started: 0,
                ended: 0,
            }),
            rng: Rng::new(),
            suppressed: false,
            rules: RulesCache::new(),
        };
        (local, consumer)
    }

    fn queued(consumer: &mut Consumer<Finished>) -> Vec<Finished> {
        let mut out = Vec::new();
        consumer.drain(usize::MAX, |span| out.push(span));
        out
    }

    fn root(local: &mut Local, sampled: bool) -> Frame {
        make_frame(
            local,
            &SPEC,
            None,
            Some((7 << 96 | 99, Some(sampled))),
            &RootRequest::NONE,
            0,
        )
    }

    #[test]
    fn children_inherit_the_trace_and_the_decision() {
        let (mut local, _) = local();
        let top = root(&mut local, false);
        assert_eq!(top.trace_id, 7 << 96 | 99);
        assert_eq!(top.parent_id, 0);
        assert_ne!(top.span_id, 0);
        local.stack.push(top);
        let (parent, _) = child_parent(&local);
        let child = make_frame(&mut local, &SPEC, parent, None, &RootRequest::NONE, 0);
        let top = &local.stack[0];
        assert_eq!(
            (child.trace_id, child.parent_id),
            (top.trace_id, top.span_id)
        );
        assert!(!child.sampled, "an unsampled root's children are unsampled");
        assert_eq!(child.start, 0, "an unsampled span reads no clock");
        assert_ne!(child.span_id, top.span_id);
    }

    #[test]
    fn a_new_trace_gets_a_timestamped_id() {
        let (mut local, _) = local();
        let frame = make_frame(&mut local, &SPEC, None, None, &RootRequest::NONE, 0);
        let seconds = (frame.trace_id >> 96) as u32;
        assert!(seconds.abs_diff(clock::epoch_seconds()) <= 1);
        assert_eq!(frame.parent_id, 0);
    }

    #[test]
    fn only_sampled_spans_of_the_current_installation_are_queued() {
        let (mut local, mut consumer) = local();
        let current = state::generation();
        let sampled = root(&mut local, true);
        let id = sampled.span_id;
        assert!(!sampled.finish_into(&mut local, Some(current)));
        let out = queued(&mut consumer);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].span_id, id);
        assert!(out[0].end >= out[0].start);

        let lost = stats::stats();
        root(&mut local, false).finish_into(&mut local, Some(current));
        root(&mut local, true).finish_into(&mut local, Some(current.wrapping_add(1)));
        root(&mut local, true).finish_into(&mut local, None);
        Frame::proxy(1, 2, true, None).finish_into(&mut local, Some(current));
        assert!(queued(&mut consumer).is_empty());
        let lost = stats::stats().since(&lost);
        assert!(lost.superseded >= 1 && lost.ended_too_late >= 1, "{lost:?}");
        let outbox = local.outbox.as_ref().expect("outbox");
        assert_eq!((outbox.started, outbox.ended), (3, 3), "sampled spans only");
    }

    #[test]
    fn a_suppressed_thread_records_no_span() {
        std::thread::spawn(|| {
            suppress_this_thread();
            assert!(is_suppressed());
            assert!(push_child(&SPEC).is_none());
            assert!(child_frame(&SPEC).is_none());
            assert!(root_frame(&SPEC, Context::new(), &RootRequest::NONE).is_none());
        })
        .join()
        .expect("suppressed thread");
        assert!(!is_suppressed());
    }

    #[test]
    fn the_stack_is_last_in_first_out() {
        std::thread::spawn(|| {
            let ids: Vec<u64> = (1..=3).collect();
            for &id in &ids {
                assert!(push(Frame::proxy(5, id, true, None)));
            }
            assert_eq!(with_top(|frame| frame.span_id), Some(3));
            let popped: Vec<u64> = std::iter::from_fn(pop).map(|f| f.span_id).collect();
            assert_eq!(popped, ids.into_iter().rev().collect::<Vec<_>>());
            assert_eq!(with_top(|frame| frame.span_id), None);
        })
        .join()
        .expect("stack test thread");
    }

    #[test]
    fn a_lambda_root_asks_for_a_flush_when_it_ends() {
        static LAMBDA: SpanSpec = SpanSpec {
            name: "handler",
            kind: opentelemetry::trace::SpanKind::Server,
            flush: true,
        };
        let (mut local, _) = local();
        let frame = make_frame(
            &mut local,
            &LAMBDA,
            None,
            Some((1, Some(false))),
            &RootRequest::NONE,
            0,
        );
        assert!(!frame.ends_silently());
        assert!(frame.finish_into(&mut local, Some(state::generation())));
    }
}
