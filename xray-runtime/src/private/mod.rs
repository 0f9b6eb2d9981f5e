//! What the macros' expansions call. Not public API: it may change in any
//! release, and only `xray-macros` of the same version may use it.

use std::fmt::{Debug, Display};
use std::future::Future;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::{Context, Value, global};

pub use opentelemetry::trace::SpanKind;

pub use crate::config::{ExporterKind, SignalExporter, XraySampling};
pub use crate::export::Protocol;
pub use crate::sampler::{RequestKey, SamplerKind, request_key};

pub mod dispatch;
pub use crate::{
    __xray_attr_value as attr_value, __xray_error_info as error_info,
    __xray_outcome_err as outcome_err, __xray_outcome_value as outcome_value,
    __xray_ret_value as ret_value,
};

use crate::config::Config;
pub use crate::metrics::meter::{CallMeter, MeterSite, Metered};
use crate::propagation::{HeaderExtractor, HeaderGetter, XRAY_HEADER, XrayPropagator};
use crate::provider::Guard;
pub use crate::record::SpanSpec;
pub use crate::span::error::ErrorInfo;
pub use crate::span::guard::{ActiveSpan, PendingSpan, Recorder, SpanGuard};
pub use crate::span::instrument::Instrumented;
use crate::value::{AnnotationValue, truncate};

/// Starts a child of the current span and makes it current until dropped.
#[inline]
pub fn enter(spec: &'static SpanSpec, record: impl FnOnce(&mut Recorder)) -> SpanGuard {
    SpanGuard::child(spec, record)
}

/// Starts a root span (new trace, or continuing `parent`'s remote context)
/// and makes it current until dropped.
#[inline]
pub fn enter_root(
    spec: &'static SpanSpec,
    parent: impl FnOnce() -> Context,
    record: impl FnOnce(&mut Recorder),
) -> SpanGuard {
    SpanGuard::root(spec, parent, record)
}

/// Starts a child of the current span for a future (see [`instrument`]).
#[inline]
pub fn start(spec: &'static SpanSpec, record: impl FnOnce(&mut Recorder)) -> PendingSpan {
    PendingSpan::child(spec, record)
}

/// Starts a root span for a future (see [`instrument`]).
#[inline]
pub fn start_root(
    spec: &'static SpanSpec,
    parent: impl FnOnce() -> Context,
    record: impl FnOnce(&mut Recorder),
) -> PendingSpan {
    PendingSpan::root(spec, parent, record)
}

/// Runs `future` inside `span`; `on_outcome` sees the output before the span ends.
#[inline]
pub fn instrument<F, O>(span: PendingSpan, future: F, on_outcome: O) -> Instrumented<F, O>
where
    F: Future,
    O: FnOnce(&ActiveSpan, &F::Output),
{
    Instrumented::new(span, future, on_outcome)
}

/// Meters a synchronous call whose span `guard` holds (`#[xray_root]`,
/// `#[traced(metrics)]`): recorded when the meter drops.
#[inline]
pub fn meter(site: &'static MeterSite, guard: &SpanGuard) -> CallMeter {
    CallMeter::enter(site, guard)
}

/// Runs `future` inside `span`, metered at `site`: `is_error` says whether
/// its output is a failure.
#[inline]
pub fn instrument_metered<F, O, C>(
    site: &'static MeterSite,
    span: PendingSpan,
    future: F,
    on_outcome: O,
    is_error: C,
) -> Metered<Instrumented<F, O>, C>
where
    F: Future,
    O: FnOnce(&ActiveSpan, &F::Output),
    C: FnOnce(&F::Output) -> bool,
{
    let meter = CallMeter::start(site, &span);
    Metered::new(meter, Instrumented::new(span, future, on_outcome), is_error)
}

/// Calls `body` once. The `FnOnce` bound lets a body return borrows of the
/// function's arguments, as the function itself could.
#[inline(always)]
pub fn call_once<R>(body: impl FnOnce() -> R) -> R {
    body()
}

/// Sets up `#[xray_main]`: the crate's package name and version are the defaults.
pub fn main_config(package: &str, version: &str) -> Config {
    Config::new()
        .default_service_name(package)
        .service_version(version)
}

/// Installs the provider for `#[xray_main]`.
pub fn init_main(config: Config) -> Guard {
    crate::provider::init(config)
}

// ---------------------------------------------------------------------------
// Where a root span's parent comes from.

/// No parent: a new trace, whatever span is current.
pub fn no_parent() -> Context {
    Context::new()
}

/// The caller's context from request headers, through the configured propagators.
pub fn parent_from_headers<H: HeaderGetter + ?Sized>(headers: &H) -> Context {
    global::get_text_map_propagator(|p| {
        p.extract_with_context(&Context::new(), &HeaderExtractor(headers))
    })
}

/// The caller's context from a raw `X-Amzn-Trace-Id` value.
pub fn parent_from_trace_header<T: TraceHeaderArg + ?Sized>(value: &T) -> Context {
    match value.trace_header() {
        Some(value) => {
            let carrier = [(XRAY_HEADER, value)];
            XrayPropagator::new()
                .extract_with_context(&Context::new(), &HeaderExtractor(&carrier[..]))
        }
        None => Context::new(),
    }
}

/// The invocation's context from `_X_AMZN_TRACE_ID` (AWS Lambda).
pub fn parent_from_lambda() -> Context {
    let empty: [(&str, &str); 0] = [];
    XrayPropagator::lambda().extract_with_context(&Context::new(), &HeaderExtractor(&empty[..]))
}

/// What `trace_header = ...` accepts: a header value that may be absent.
#[diagnostic::on_unimplemented(
    message = "`trace_header` takes the X-Amzn-Trace-Id value as `&str`, `String` or an `Option` of them, not `{Self}`"
)]
pub trait TraceHeaderArg {
    /// The value, if present.
    fn trace_header(&self) -> Option<&str>;
}

impl TraceHeaderArg for str {
    fn trace_header(&self) -> Option<&str> {
        Some(self)
    }
}
impl TraceHeaderArg for String {
    fn trace_header(&self) -> Option<&str> {
        Some(self)
    }
}
impl<T: TraceHeaderArg + ?Sized> TraceHeaderArg for &T {
    fn trace_header(&self) -> Option<&str> {
        (**self).trace_header()
    }
}
impl<T: TraceHeaderArg> TraceHeaderArg for Option<T> {
    fn trace_header(&self) -> Option<&str> {
        self.as_ref().and_then(TraceHeaderArg::trace_header)
    }
}

// ---------------------------------------------------------------------------
// Values.

/// A string literal in `attrs(...)` or `annotations(...)`: recorded as it
/// is, without copying it, unless it is longer than
/// [`crate::MAX_VALUE_LEN`] (then cut, as any other string). Always inlined:
/// the literal's length is then known where it is checked.
#[inline(always)]
pub fn literal_value(value: &'static str) -> Value {
    if value.len() <= crate::MAX_VALUE_LEN {
        Value::String(value.into())
    } else {
        display_value(value)
    }
}

/// `%expr` in `attrs(...)`.
pub fn display_value<T: Display + ?Sized>(value: &T) -> Value {
    Value::from(truncate(value.to_string()))
}

/// `?expr` in `attrs(...)`.
pub fn debug_value<T: Debug + ?Sized>(value: &T) -> Value {
    Value::from(truncate(format!("{value:?}")))
}

/// A value in `annotations(...)`: only the types X-Ray indexes compile.
pub fn annotation_value<T: AnnotationValue + ?Sized>(value: &T) -> Value {
    value.to_annotation()
}

/// What `err` requires of the return type.
#[diagnostic::on_unimplemented(
    message = "`err` records the `Err` of a `Result`, and `{Self}` is not a `Result`",
    label = "not a `Result`",
    note = "remove `err`; results are recorded without it when the function returns a `Result`"
)]
pub trait IsResult {
    /// The error type.
    type Error;
    /// The error, if this is one.
    fn err_ref(&self) -> Option<&Self::Error>;
}

impl<T, E> IsResult for Result<T, E> {
    type Error = E;
    fn err_ref(&self) -> Option<&E> {
        self.as_ref().err()
    }
}

/// The error of a value that `err` says is a `Result`.
pub fn forced_err<R: IsResult>(value: &R) -> Option<&R::Error> {
    value.err_ref()
}

/// Stands for "no error" in the dispatch of non-`Result` return values.
#[derive(Debug)]
pub enum NoError {}

impl Display for NoError {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_header_arguments() {
        assert_eq!("a".trace_header(), Some("a"));
        assert_eq!(Some(String::from("b")).trace_header(), Some("b"));
        assert_eq!(None::<&str>.trace_header(), None);
    }

    #[test]
    fn literals_are_recorded_as_written_and_cut_like_other_strings() {
        for len in [0, crate::MAX_VALUE_LEN, crate::MAX_VALUE_LEN + 1] {
            let literal: &'static str = Box::leak("x".repeat(len).into_boxed_str());
            assert_eq!(
                literal_value(literal),
                display_value(literal),
                "{len} bytes"
            );
        }
    }
}
