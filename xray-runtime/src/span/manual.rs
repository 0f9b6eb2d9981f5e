//! Spans that are not one function call: a request handled by middleware,
//! a message consumed from a queue. Their names are decided at run time.

use std::borrow::Cow;
use std::future::Future;
use std::sync::atomic::Ordering;

use opentelemetry::trace::{Link, SpanContext, SpanKind, Status, TraceId};
use opentelemetry::{Context, Key, KeyValue};

use crate::clock;
use crate::propagation::xray_trace_id;
use crate::record::{RawEvent, SpanSpec};
use crate::sampler::RootRequest;
use crate::span::error::ErrorInfo;
use crate::span::guard::{ActiveSpan, PendingSpan};
use crate::span::instrument::Instrumented;
use crate::span::stack::{self, Frame, PopInto};
use crate::state::ENABLED;
use crate::value::AttributeValue;

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
        Self::named(stack::child_frame(&DYNAMIC), name.into(), kind)
    }

    /// A root span: continuing the remote trace in `parent` (a context a
    /// propagator extracted) when it names one, else a new trace. The current
    /// span, if any, is ignored.
    pub fn root(name: impl Into<Cow<'static, str>>, kind: SpanKind, parent: &Context) -> Self {
        Self::root_for(name, kind, parent, &RootRequest::NONE)
    }

    /// A root span like [`Span::root`], with its first attributes. X-Ray's
    /// sampling rules ([`SamplerKind::Xray`](crate::SamplerKind::Xray)) see
    /// them when they decide: a rule's `Attributes` match string attributes
    /// by key, and its `HTTPMethod`, `URLPath` and `Host` match
    /// `http.request.method`, `url.path` and `server.address`. They are kept
    /// if the span is sampled.
    ///
    /// ```
    /// use xray_runtime::{KeyValue, Span, SpanKind};
    ///
    /// let capture = xray_runtime::testing::capture();
    /// let span = Span::root_with_attributes(
    ///     "process order",
    ///     SpanKind::Consumer,
    ///     &xray_runtime::Context::new(),
    ///     vec![KeyValue::new("queue", "orders")],
    /// );
    /// drop(span);
    /// assert_eq!(capture.span("process order").attr_str("queue"), Some("orders"));
    /// ```
    pub fn root_with_attributes(
        name: impl Into<Cow<'static, str>>,
        kind: SpanKind,
        parent: &Context,
        attributes: Vec<KeyValue>,
    ) -> Self {
        let mut span = Self::root_for(
            name,
            kind,
            parent,
            &RootRequest::from_attributes(&attributes),
        );
        if let Some(frame) = span.frame.as_mut().filter(|frame| frame.sampled) {
            frame.extra().attributes.extend(attributes);
        }
        span
    }

    /// A root span, decided with what `request` says it is about.
    pub(crate) fn root_for(
        name: impl Into<Cow<'static, str>>,
        kind: SpanKind,
        parent: &Context,
        request: &RootRequest<'_>,
    ) -> Self {
        if !ENABLED.load(Ordering::Relaxed) {
            return Self::default();
        }
        Self::named(
            stack::root_frame(&DYNAMIC, parent.clone(), request),
            name.into(),
            kind,
        )
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

    /// Records attributes whose values are already OpenTelemetry values
    /// (kept as they are: static strings are not copied). The first ones
    /// become the span's list, spare capacity included.
    #[cfg_attr(not(feature = "aws-sdk"), allow(dead_code))]
    pub(crate) fn extend_attributes(&mut self, mut attributes: Vec<KeyValue>) {
        if let Some(frame) = self.frame.as_mut().filter(|frame| frame.sampled) {
            let recorded = &mut frame.extra().attributes;
            if recorded.is_empty() {
                std::mem::swap(recorded, &mut attributes);
            } else {
                recorded.append(&mut attributes);
            }
        }
    }

    /// Adds an event whose attributes are already OpenTelemetry values.
    #[cfg_attr(not(feature = "aws-sdk"), allow(dead_code))]
    pub(crate) fn push_event(&mut self, name: &'static str, attributes: Vec<KeyValue>) {
        if let Some(frame) = self.frame.as_mut().filter(|frame| frame.sampled) {
            frame.extra().events.push(RawEvent {
                name: Cow::Borrowed(name),
                at: clock::ticks(),
                attributes,
            });
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
            frame.record_error(ErrorInfo::of(error));
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

    /// Links this span to another (of this trace or another one): a job
    /// handling a batch of messages links to each message's producer. An
    /// invalid context is ignored.
    ///
    /// ```
    /// use xray_runtime::propagation::XrayHeader;
    /// use xray_runtime::{Span, SpanKind};
    ///
    /// let capture = xray_runtime::testing::capture();
    /// let producer: XrayHeader =
    ///     "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    ///         .parse()
    ///         .unwrap();
    /// let mut batch = Span::root("orders process", SpanKind::Consumer, &xray_runtime::Context::new());
    /// batch.add_link(producer.span_context().unwrap(), [("messaging.message.id", "m-1")]);
    /// drop(batch);
    ///
    /// let span = capture.span("orders process");
    /// assert_eq!(span.links[0].trace_id, "1-5759e988-bd862e3fe1be46a994272793");
    /// assert_eq!(span.links[0].span_id, "53995c3f42cd8ad8");
    /// ```
    pub fn add_link<K, V>(
        &mut self,
        span_context: SpanContext,
        attributes: impl IntoIterator<Item = (K, V)>,
    ) where
        K: Into<Key>,
        V: AttributeValue,
    {
        if !span_context.is_valid() {
            return;
        }
        if let Some(frame) = self.frame.as_mut().filter(|frame| frame.sampled) {
            let attributes = attributes
                .into_iter()
                .map(|(k, v)| KeyValue::new(k, v.to_value()))
                .collect();
            frame
                .extra()
                .links
                .push(Link::new(span_context, attributes, 0));
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
        if !stack::push_or_keep(frame, &mut self.frame) {
            return f();
        }
        let _back = PopInto {
            slot: &mut self.frame,
        };
        f()
    }

    /// Runs `future` with this span current while it is polled; the span ends
    /// when the future completes, or is marked cancelled if it is dropped
    /// first. `on_output` runs with the span current once the output is
    /// there (to record a status code, say, with [`set_attribute`](crate::set_attribute) and
    /// [`set_status_error`](crate::set_status_error)).
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
