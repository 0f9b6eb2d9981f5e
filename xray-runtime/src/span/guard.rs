//! What the macros' expansions hold while a traced function runs: the guard
//! of a synchronous call, the span of a future before its first poll, and
//! the recorder that collects attributes at entry.

use std::marker::PhantomData;
use std::sync::atomic::Ordering;

use opentelemetry::{Context, KeyValue, StringValue, Value};

use crate::record::{RETURN_KEY, SpanSpec};
use crate::sampler::{self, RequestFields, RequestKey, RootRequest};
use crate::span::error::ErrorInfo;
use crate::span::stack::{self, Frame};
use crate::state::ENABLED;

/// Collects a span's attributes at entry; only called for sampled spans.
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct Recorder {
    attributes: Vec<KeyValue>,
    annotations: Vec<StringValue>,
    /// The request fields among the attributes, as sampling rules see them.
    request: RequestFields,
}

impl Recorder {
    /// Records an attribute.
    pub fn attr(&mut self, key: &'static str, value: Value) {
        self.attributes.push(KeyValue::new(key, value));
    }

    /// Records an attribute of a root, whose key names the request field
    /// `field` (worked out by the macros at compile time, see
    /// [`request_key`](crate::sampler::request_key)).
    #[inline]
    pub fn root_attr(&mut self, key: &'static str, field: RequestKey, value: Value) {
        self.request.note(field, self.attributes.len(), &value);
        self.attributes.push(KeyValue::new(key, value));
    }

    /// Records an X-Ray annotation: an attribute listed in
    /// [`ANNOTATIONS_KEY`](crate::ANNOTATIONS_KEY).
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
        if extra.attributes.is_empty() {
            extra.attributes = self.attributes;
        } else {
            extra.attributes.extend(self.attributes);
        }
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

/// A root's frame when sampling rules decide: its attributes are recorded
/// first, since rules match them (and the HTTP fields among them), then
/// kept if the root is sampled.
#[inline(never)]
fn root_frame_by_rules(
    spec: &'static SpanSpec,
    parent: impl FnOnce() -> Context,
    record: impl FnOnce(&mut Recorder),
) -> Option<Frame> {
    let mut recorder = Recorder::default();
    record(&mut recorder);
    let request = recorder.request.request(&recorder.attributes);
    let mut frame = stack::root_frame(spec, parent(), &request)?;
    if frame.sampled {
        recorder.apply(&mut frame);
    }
    Some(frame)
}

/// The span of a future, started but not yet current: `Instrumented` makes
/// it current while the future is polled. Empty when tracing is off.
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct PendingSpan {
    pub(crate) frame: Option<Frame>,
}

impl PendingSpan {
    /// A child of the current span.
    #[inline]
    pub(crate) fn child(spec: &'static SpanSpec, record: impl FnOnce(&mut Recorder)) -> Self {
        if !ENABLED.load(Ordering::Relaxed) {
            return Self::default();
        }
        let frame = stack::child_frame(spec).map(|mut frame| {
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
        if sampler::rules_decide() {
            return Self {
                frame: root_frame_by_rules(spec, parent, record),
            };
        }
        let frame = stack::root_frame(spec, parent(), &RootRequest::NONE).map(|mut frame| {
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
    pub(crate) current: bool,
}

impl ActiveSpan {
    /// Marks the span failed by `error`, with an `exception` event.
    pub fn record_error(&self, error: ErrorInfo) {
        if self.current {
            stack::with_top(|frame| {
                if frame.sampled {
                    frame.record_error(error);
                }
            });
        }
    }

    /// Records the function's return value.
    pub fn record_return(&self, value: Value) {
        if self.current {
            stack::with_top(|frame| {
                if frame.sampled {
                    frame
                        .extra()
                        .attributes
                        .push(KeyValue::new(RETURN_KEY, value));
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
        Self::entered(stack::push_child(spec), record)
    }

    #[inline(never)]
    fn enter_root(
        spec: &'static SpanSpec,
        parent: impl FnOnce() -> Context,
        record: impl FnOnce(&mut Recorder),
    ) -> Self {
        if sampler::rules_decide() {
            // The attributes are already on the frame.
            let sampled = root_frame_by_rules(spec, parent, record).and_then(|frame| {
                let sampled = frame.sampled;
                stack::push(frame).then_some(sampled)
            });
            return Self::entered(sampled, |_| {});
        }
        let sampled = stack::root_frame(spec, parent(), &RootRequest::NONE).and_then(|frame| {
            let sampled = frame.sampled;
            stack::push(frame).then_some(sampled)
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
                        stack::with_top(|frame| recorder.apply(frame));
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
        stack::end_top();
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
