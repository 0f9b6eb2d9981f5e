//! What the macros' expansions call. Not public API: it may change in any
//! release, and only `xray-macros` of the same version may use it.

use std::fmt::{Debug, Display};
use std::future::Future;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::{Context, Value, global};

pub use opentelemetry::trace::SpanKind;

use crate::config::Config;
use crate::propagation::{HeaderExtractor, HeaderGetter, XRAY_HEADER, XrayPropagator};
use crate::provider::Guard;
pub use crate::span::{
    ActiveSpan, ErrorInfo, Instrumented, PendingSpan, Recorder, SpanGuard, SpanSpec,
};
use crate::value::{AnnotationValue, AttributeValue, truncate};

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
    crate::init(config)
}

/// Flushes after a Lambda invocation's root span ended.
pub fn flush_invocation() {
    if let Err(err) = crate::flush() {
        eprintln!("xray: {err}");
    }
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
// Values. The macros use "autoref specialisation": the same method name on
// traits implemented for `&&W`, `&W` and `W`, called on `&&&W`, resolves to
// the most capable implementation the value's concrete type allows.

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

/// The `source()` chain of an error, outermost first (at most 16 links).
pub(crate) fn error_causes<E: std::error::Error + ?Sized>(error: &E) -> Vec<String> {
    let mut causes = Vec::new();
    let mut next = error.source();
    while let Some(cause) = next {
        if causes.len() == 16 {
            break;
        }
        causes.push(cause.to_string());
        next = cause.source();
    }
    causes
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

/// The dispatch traits, imported by expansions with `use ... as _`.
pub mod dispatch {
    use super::*;

    /// A return value, looked at as a possible `Result`.
    pub struct OutcomeWrap<'a, T: ?Sized>(pub &'a T);

    /// `Result`s: their error, and their `Ok` value as the return value.
    pub trait OutcomeResult {
        /// The error type.
        type Error;
        /// The `Ok` value type.
        type Value: ?Sized;
        /// The error, if any.
        fn __xray_err(&self) -> Option<&Self::Error>;
        /// The value to record with `ret`: the `Ok` value.
        fn __xray_value(&self) -> Option<&Self::Value>;
    }
    impl<T, E> OutcomeResult for &OutcomeWrap<'_, Result<T, E>> {
        type Error = E;
        type Value = T;
        fn __xray_err(&self) -> Option<&E> {
            self.0.as_ref().err()
        }
        fn __xray_value(&self) -> Option<&T> {
            self.0.as_ref().ok()
        }
    }

    /// Anything else: never an error; the whole value is the return value.
    pub trait OutcomeOther {
        /// The error type.
        type Error;
        /// The value type.
        type Value: ?Sized;
        /// No error.
        fn __xray_err(&self) -> Option<&Self::Error>;
        /// The whole value.
        fn __xray_value(&self) -> Option<&Self::Value>;
    }
    impl<T: ?Sized> OutcomeOther for OutcomeWrap<'_, T> {
        type Error = NoError;
        type Value = T;
        fn __xray_err(&self) -> Option<&NoError> {
            None
        }
        fn __xray_value(&self) -> Option<&T> {
            Some(self.0)
        }
    }

    /// An attribute value: native OpenTelemetry types first, else `Debug`.
    pub struct AttrWrap<'a, T: ?Sized>(pub &'a T);

    /// Native attribute values.
    pub trait AttrNative {
        /// The value.
        fn __xray_attr_value(&self) -> Value;
    }
    impl<T: AttributeValue + ?Sized> AttrNative for &AttrWrap<'_, T> {
        fn __xray_attr_value(&self) -> Value {
            self.0.to_value()
        }
    }

    /// Any `Debug` value.
    pub trait AttrDebug {
        /// The value.
        fn __xray_attr_value(&self) -> Value;
    }
    impl<T: Debug + ?Sized> AttrDebug for AttrWrap<'_, T> {
        fn __xray_attr_value(&self) -> Value {
            debug_value(self.0)
        }
    }

    /// An error: `std::error::Error` (with causes), else `Display`, else
    /// `Debug`, else only its type.
    pub struct ErrWrap<'a, E: ?Sized>(pub &'a E);

    /// `std::error::Error` values.
    pub trait ErrIsError {
        /// The error as recorded.
        fn __xray_error_info(&self) -> ErrorInfo;
    }
    impl<E: std::error::Error + ?Sized> ErrIsError for &&&ErrWrap<'_, E> {
        fn __xray_error_info(&self) -> ErrorInfo {
            ErrorInfo {
                type_name: std::any::type_name::<E>(),
                message: self.0.to_string(),
                causes: error_causes(self.0),
            }
        }
    }

    /// `Display` values.
    pub trait ErrIsDisplay {
        /// The error as recorded.
        fn __xray_error_info(&self) -> ErrorInfo;
    }
    impl<E: Display + ?Sized> ErrIsDisplay for &&ErrWrap<'_, E> {
        fn __xray_error_info(&self) -> ErrorInfo {
            ErrorInfo {
                type_name: std::any::type_name::<E>(),
                message: self.0.to_string(),
                causes: Vec::new(),
            }
        }
    }

    /// `Debug` values.
    pub trait ErrIsDebug {
        /// The error as recorded.
        fn __xray_error_info(&self) -> ErrorInfo;
    }
    impl<E: Debug + ?Sized> ErrIsDebug for &ErrWrap<'_, E> {
        fn __xray_error_info(&self) -> ErrorInfo {
            ErrorInfo {
                type_name: std::any::type_name::<E>(),
                message: format!("{:?}", self.0),
                causes: Vec::new(),
            }
        }
    }

    /// Anything else.
    pub trait ErrOpaque {
        /// The error as recorded.
        fn __xray_error_info(&self) -> ErrorInfo;
    }
    impl<E: ?Sized> ErrOpaque for ErrWrap<'_, E> {
        fn __xray_error_info(&self) -> ErrorInfo {
            let type_name = std::any::type_name::<E>();
            ErrorInfo {
                type_name,
                message: type_name.to_string(),
                causes: Vec::new(),
            }
        }
    }

    /// A return value: native attribute types, else `Display`, else `Debug`,
    /// else its type name.
    pub struct RetWrap<'a, T: ?Sized>(pub &'a T);

    /// Native attribute values.
    pub trait RetNative {
        /// The value.
        fn __xray_ret_value(&self) -> Value;
    }
    impl<T: AttributeValue + ?Sized> RetNative for &&&RetWrap<'_, T> {
        fn __xray_ret_value(&self) -> Value {
            self.0.to_value()
        }
    }

    /// `Display` values.
    pub trait RetDisplay {
        /// The value.
        fn __xray_ret_value(&self) -> Value;
    }
    impl<T: Display + ?Sized> RetDisplay for &&RetWrap<'_, T> {
        fn __xray_ret_value(&self) -> Value {
            display_value(self.0)
        }
    }

    /// `Debug` values.
    pub trait RetDebug {
        /// The value.
        fn __xray_ret_value(&self) -> Value;
    }
    impl<T: Debug + ?Sized> RetDebug for &RetWrap<'_, T> {
        fn __xray_ret_value(&self) -> Value {
            debug_value(self.0)
        }
    }

    /// Anything else.
    pub trait RetOpaque {
        /// The value.
        fn __xray_ret_value(&self) -> Value;
    }
    impl<T: ?Sized> RetOpaque for RetWrap<'_, T> {
        fn __xray_ret_value(&self) -> Value {
            Value::from(std::any::type_name::<T>())
        }
    }
}

#[cfg(test)]
// The extra borrows are the dispatch under test: they pick the implementation.
#[allow(clippy::needless_borrow)]
mod tests {
    use super::dispatch::*;
    use super::*;

    #[derive(Debug)]
    struct OnlyDebug;
    struct Nothing;

    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("outer failed")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn attribute_dispatch() {
        assert_eq!((&&AttrWrap(&5u32)).__xray_attr_value(), Value::I64(5));
        assert_eq!(
            (&&AttrWrap(&OnlyDebug)).__xray_attr_value(),
            Value::from("OnlyDebug")
        );
    }

    #[test]
    fn error_dispatch() {
        let err = Outer(std::io::Error::other("disk full"));
        let info = (&&&&ErrWrap(&err)).__xray_error_info();
        assert_eq!(info.message, "outer failed");
        assert_eq!(info.causes, vec!["disk full".to_string()]);
        assert!(info.type_name.ends_with("Outer"));
        let info = (&&&&ErrWrap(&"plain text")).__xray_error_info();
        assert_eq!(info.message, "plain text");
        let info = (&&&&ErrWrap(&OnlyDebug)).__xray_error_info();
        assert_eq!(info.message, "OnlyDebug");
        let info = (&&&&ErrWrap(&Nothing)).__xray_error_info();
        assert!(info.message.ends_with("Nothing"));
    }

    #[test]
    fn return_dispatch() {
        assert_eq!((&&&&RetWrap(&7i64)).__xray_ret_value(), Value::I64(7));
        let ip = std::net::Ipv4Addr::LOCALHOST;
        assert_eq!(
            (&&&&RetWrap(&ip)).__xray_ret_value(),
            Value::from("127.0.0.1")
        );
        assert_eq!(
            (&&&&RetWrap(&Some(1))).__xray_ret_value(),
            Value::from("Some(1)")
        );
        assert!(
            (&&&&RetWrap(&Nothing))
                .__xray_ret_value()
                .to_string()
                .ends_with("Nothing")
        );
    }

    #[test]
    fn trace_header_arguments() {
        assert_eq!("a".trace_header(), Some("a"));
        assert_eq!(Some(String::from("b")).trace_header(), Some("b"));
        assert_eq!(None::<&str>.trace_header(), None);
    }
}
