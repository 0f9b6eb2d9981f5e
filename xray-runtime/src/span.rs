//! Spans made by the macros, and helpers that act on the current span.

use std::borrow::Cow;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Once;
use std::sync::atomic::Ordering;
use std::task::{Context as TaskContext, Poll};

use opentelemetry::trace::{
    SpanBuilder, SpanContext, SpanKind, Status, TraceContextExt, Tracer as _,
};
use opentelemetry::{Context, ContextGuard, Key, KeyValue, Value};

use crate::id::with_trace_id_hint;
use crate::propagation::{IncomingXray, Sampling, XrayHeader, xray_trace_id};
use crate::provider::{ENABLED, TRACER};
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

/// Collects a span's attributes at entry; only called for recorded spans.
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct Recorder {
    attributes: Vec<KeyValue>,
    annotations: Vec<Value>,
}

impl Recorder {
    /// Records an attribute.
    pub fn attr(&mut self, key: &'static str, value: Value) {
        self.attributes.push(KeyValue::new(key, value));
    }

    /// Records an X-Ray annotation: an attribute listed in [`ANNOTATIONS_KEY`].
    pub fn annotation(&mut self, key: &'static str, value: Value) {
        self.attributes.push(KeyValue::new(key, value));
        self.annotations.push(Value::from(key));
    }

    fn apply(mut self, span: &mut impl opentelemetry::trace::Span) {
        if !self.annotations.is_empty() {
            self.attributes.push(annotation_list(self.annotations));
        }
        if !self.attributes.is_empty() {
            span.set_attributes(self.attributes);
        }
    }
}

fn annotation_list(keys: Vec<Value>) -> KeyValue {
    let keys = keys
        .into_iter()
        .filter_map(|k| match k {
            Value::String(s) => Some(s),
            _ => None,
        })
        .collect();
    KeyValue::new(
        ANNOTATIONS_KEY,
        Value::Array(opentelemetry::Array::String(keys)),
    )
}

/// A started span and the context that carries it; ends when dropped.
///
/// Holds nothing when tracing is off, so that path costs one atomic load.
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct ActiveSpan {
    cx: Option<Context>,
    flush: bool,
}

impl ActiveSpan {
    /// A child of the current span.
    pub(crate) fn child(spec: &'static SpanSpec, record: impl FnOnce(&mut Recorder)) -> Self {
        if !ENABLED.load(Ordering::Relaxed) {
            return Self::default();
        }
        Context::map_current(|parent| Self::start(spec, parent, record))
    }

    /// A new trace, or the continuation of the trace named by `parent`
    /// (an extracted remote context); any current span is ignored.
    pub(crate) fn root(
        spec: &'static SpanSpec,
        parent: impl FnOnce() -> Context,
        record: impl FnOnce(&mut Recorder),
    ) -> Self {
        if !ENABLED.load(Ordering::Relaxed) {
            return Self::default();
        }
        let parent = parent();
        // A Root-only header (first hop behind a load balancer) names the
        // trace but no parent span: keep its trace id for the new root span.
        let hint = parent
            .get::<IncomingXray>()
            .filter(|_| !parent.span().span_context().is_valid())
            .map(|incoming| incoming.header.trace_id);
        match hint {
            Some(trace_id) => with_trace_id_hint(trace_id, || Self::start(spec, &parent, record)),
            None => Self::start(spec, &parent, record),
        }
    }

    fn start(
        spec: &'static SpanSpec,
        parent: &Context,
        record: impl FnOnce(&mut Recorder),
    ) -> Self {
        let tracer = TRACER.read().unwrap_or_else(|e| e.into_inner());
        let Some(tracer) = tracer.as_ref() else {
            return Self::default();
        };
        let builder = SpanBuilder::from_name(spec.name).with_kind(spec.kind.clone());
        let mut span = tracer.build_with_context(builder, parent);
        if opentelemetry::trace::Span::is_recording(&span) {
            let mut recorder = Recorder::default();
            record(&mut recorder);
            recorder.apply(&mut span);
        }
        Self {
            cx: Some(parent.with_span(span)),
            flush: spec.flush,
        }
    }

    fn context(&self) -> Option<&Context> {
        self.cx.as_ref()
    }

    /// Marks the span failed by `error`, with an `exception` event.
    pub fn record_error(&self, error: ErrorInfo) {
        if let Some(cx) = self.recording() {
            error.record(&cx.span());
        }
    }

    /// Records the function's return value.
    pub fn record_return(&self, value: Value) {
        if let Some(cx) = self.recording() {
            cx.span().set_attribute(KeyValue::new("xray.return", value));
        }
    }

    fn recording(&self) -> Option<&Context> {
        self.cx.as_ref().filter(|cx| cx.span().is_recording())
    }

    fn mark_cancelled(&self) {
        if let Some(cx) = self.recording() {
            cx.span().set_attribute(KeyValue::new(CANCELLED_KEY, true));
        }
    }
}

impl Drop for ActiveSpan {
    fn drop(&mut self) {
        if let Some(cx) = self.cx.take() {
            if std::thread::panicking() {
                record_panic(&cx);
            }
            cx.span().end();
            if self.flush {
                crate::private::flush_invocation();
            }
        }
    }
}

/// The span of a synchronous traced call: current until dropped.
#[doc(hidden)]
#[derive(Debug)]
pub struct SpanGuard {
    // Field order matters: the span ends before its context is detached.
    span: ActiveSpan,
    _attached: Option<ContextGuard>,
}

impl SpanGuard {
    pub(crate) fn attach(span: ActiveSpan) -> Self {
        let attached = span.context().map(|cx| cx.clone().attach());
        Self {
            span,
            _attached: attached,
        }
    }

    /// The span, to record the outcome on.
    pub fn span(&self) -> &ActiveSpan {
        &self.span
    }
}

/// A future run inside a span: the span is current during every poll and
/// ends when the future completes or is dropped.
///
/// The context is attached only for the duration of each `poll`, so nothing
/// thread-bound is held across `.await` and the future stays `Send` when the
/// wrapped future is.
#[doc(hidden)]
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Instrumented<F, O> {
    future: F,
    span: ActiveSpan,
    on_outcome: Option<O>,
}

impl<F, O> Instrumented<F, O>
where
    F: Future,
    O: FnOnce(&ActiveSpan, &F::Output),
{
    pub(crate) fn new(span: ActiveSpan, future: F, on_outcome: O) -> Self {
        Self {
            future,
            span,
            on_outcome: Some(on_outcome),
        }
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
        // `self` and `Instrumented` has no `Unpin` impl of its own beyond the
        // auto trait (which requires `F: Unpin`). The other fields are not
        // pinned and are only accessed through `&mut`.
        let this = unsafe { self.get_unchecked_mut() };
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        let _attached = this.span.context().map(|cx| cx.clone().attach());
        let output = future.poll(task);
        if let Poll::Ready(value) = &output {
            if let Some(on_outcome) = this.on_outcome.take() {
                on_outcome(&this.span, value);
            }
            drop(std::mem::take(&mut this.span));
        }
        output
    }
}

impl<F, O> Drop for Instrumented<F, O> {
    fn drop(&mut self) {
        // Dropped before completion, and not by a panic: the caller gave up.
        if !std::thread::panicking() {
            self.span.mark_cancelled();
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

impl ErrorInfo {
    fn record(self, span: &opentelemetry::trace::SpanRef<'_>) {
        let message = truncate(self.message);
        span.set_status(Status::error(message.clone()));
        let mut attributes = vec![
            KeyValue::new("exception.type", self.type_name),
            KeyValue::new("exception.message", message),
        ];
        if !self.causes.is_empty() {
            let causes = self
                .causes
                .into_iter()
                .map(|c| truncate(c).into())
                .collect();
            attributes.push(KeyValue::new(
                "exception.causes",
                Value::Array(opentelemetry::Array::String(causes)),
            ));
        }
        span.add_event("exception", attributes);
    }
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

fn record_panic(cx: &Context) {
    let span = cx.span();
    if !span.is_recording() {
        return;
    }
    span.set_status(Status::error("panicked"));
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
    span.add_event("exception", attributes);
}

// ---------------------------------------------------------------------------
// Helpers on the current span.

fn current_span_context() -> Option<SpanContext> {
    Context::map_current(|cx| {
        let sc = cx.span().span_context().clone();
        sc.is_valid().then_some(sc)
    })
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
    Context::map_current(|cx| {
        let sc = cx.span().span_context().clone();
        if !sc.is_valid() {
            return None;
        }
        let lineage = cx
            .get::<IncomingXray>()
            .and_then(|i| i.header.lineage.clone());
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
    })
}

/// Sets an attribute on the current span (nothing outside a span or when the
/// span is not recorded).
///
/// ```
/// xray_runtime::set_attribute("order.id", 42u64);
/// ```
pub fn set_attribute(key: impl Into<Key>, value: impl AttributeValue) {
    Context::map_current(|cx| {
        let span = cx.span();
        if span.is_recording() {
            span.set_attribute(KeyValue::new(key, value.to_value()));
        }
    });
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
    Context::map_current(|cx| {
        let span = cx.span();
        if span.is_recording() {
            let key = key.to_string();
            span.set_attribute(KeyValue::new(key.clone(), value.to_annotation()));
            // Several lists on one span are merged into one at export.
            span.set_attribute(annotation_list(vec![Value::from(key)]));
        }
    });
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
    Context::map_current(|cx| {
        let span = cx.span();
        if span.is_recording() {
            info.record(&span);
        }
    });
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
    Context::map_current(|cx| {
        let span = cx.span();
        if span.is_recording() {
            let attributes = attributes
                .into_iter()
                .map(|(k, v)| KeyValue::new(k, v.to_value()))
                .collect();
            span.add_event(name, attributes);
        }
    });
}
