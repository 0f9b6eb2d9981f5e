//! X-Ray trace header propagation.
//!
//! AWS X-Ray carries trace context between services in one HTTP header:
//!
//! ```text
//! X-Amzn-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1
//! ```
//!
//! - `Root` is the trace id: version `1`, the trace's start time as 8 hex digits of epoch
//!   seconds, and 24 random hex digits. Together the 32 hex digits are an OpenTelemetry
//!   [`TraceId`].
//! - `Parent` is the caller's segment (span) id, 16 hex digits. Load balancers start a
//!   trace with `Root` alone, so it may be missing.
//! - `Sampled` is `1`, `0`, or `?` (the receiver decides); it may be missing too.
//! - `Lineage` is an opaque recursion counter written by AWS services; it is passed on as is.
//!
//! The module offers:
//!
//! - [`XrayHeader`] to parse and write the header value,
//! - [`XrayPropagator`], an OpenTelemetry [`TextMapPropagator`] for the header (with a Lambda
//!   variant that reads [`LAMBDA_TRACE_ENV`]),
//! - [`HeaderGetter`] and [`HeaderExtractor`] to read header-like containers, and
//!   `HeaderInjector` (feature `http`) to write into an `http::HeaderMap`.
//!
//! ```
//! use std::collections::HashMap;
//!
//! use opentelemetry::Context;
//! use opentelemetry::propagation::TextMapPropagator;
//! use xray_runtime::propagation::{XRAY_HEADER, XrayPropagator};
//!
//! let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
//! let incoming = HashMap::from([(XRAY_HEADER.to_owned(), header.to_owned())]);
//!
//! let propagator = XrayPropagator::new();
//! let cx = propagator.extract_with_context(&Context::new(), &incoming);
//!
//! let mut outgoing = HashMap::new();
//! propagator.inject_context(&cx, &mut outgoing);
//! assert_eq!(outgoing[XRAY_HEADER], header);
//! ```

use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;
use std::str::FromStr;
use std::sync::LazyLock;

use opentelemetry::Context;
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};

/// Name of the X-Ray trace header, lowercase as HTTP/2 and most carriers store it.
///
/// ```
/// assert_eq!(xray_runtime::propagation::XRAY_HEADER, "x-amzn-trace-id");
/// ```
pub const XRAY_HEADER: &str = "x-amzn-trace-id";

/// Environment variable in which AWS Lambda hands the function its trace header.
///
/// ```
/// assert_eq!(xray_runtime::propagation::LAMBDA_TRACE_ENV, "_X_AMZN_TRACE_ID");
/// ```
pub const LAMBDA_TRACE_ENV: &str = "_X_AMZN_TRACE_ID";

/// Longest header value, in bytes, that is parsed; longer values are rejected whole.
///
/// ```
/// use xray_runtime::propagation::{MAX_HEADER_LEN, XrayHeader};
///
/// let too_long = format!(
///     "Root=1-5759e988-bd862e3fe1be46a994272793;Pad={}",
///     "x".repeat(MAX_HEADER_LEN)
/// );
/// assert_eq!(XrayHeader::parse(&too_long), None);
/// ```
pub const MAX_HEADER_LEN: usize = 256;

/// The header name as AWS documents it; tried when a carrier's lookup is case-sensitive.
const XRAY_HEADER_CANONICAL: &str = "X-Amzn-Trace-Id";

const ROOT_KEY: &str = "Root";
const PARENT_KEY: &str = "Parent";
const SAMPLED_KEY: &str = "Sampled";
const LINEAGE_KEY: &str = "Lineage";

const FIELD_SEPARATOR: char = ';';
const KEY_VALUE_SEPARATOR: char = '=';

const ROOT_VERSION_PREFIX: &str = "1-";
const ROOT_PART_SEPARATOR: char = '-';
/// Hex digits of the epoch-seconds part of `Root`.
const ROOT_EPOCH_DIGITS: usize = 8;
/// Hex digits of the random part of `Root`.
const ROOT_UNIQUE_DIGITS: usize = 24;
/// Bits of the random part of `Root`, the low bits of the trace id.
const ROOT_UNIQUE_BITS: u32 = 96;
const ROOT_UNIQUE_MASK: u128 = (1 << ROOT_UNIQUE_BITS) - 1;
const PARENT_DIGITS: usize = 16;

const SAMPLED_YES: &str = "1";
const SAMPLED_NO: &str = "0";
const SAMPLED_DEFERRED: &str = "?";

const MAX_LINEAGE_LEN: usize = 64;

/// The sampling decision carried by the `Sampled` field.
///
/// ```
/// use xray_runtime::propagation::{Sampling, XrayHeader};
///
/// let header = XrayHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?").unwrap();
/// assert_eq!(header.sampling, Sampling::Requested);
/// let header = XrayHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793").unwrap();
/// assert_eq!(header.sampling, Sampling::Deferred);
/// assert!(Sampling::Requested.is_deferred() && Sampling::Deferred.is_deferred());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sampling {
    /// `Sampled=1`: the caller records this trace.
    Sampled,
    /// `Sampled=0`: the caller does not record this trace.
    NotSampled,
    /// `Sampled=?`: the caller asks the receiver to decide, and to say what it
    /// decided (X-Ray SDKs answer with `Sampled=0|1` in the response header).
    Requested,
    /// No `Sampled` field, or a value X-Ray does not define: the receiver
    /// decides. An unknown value is never taken as sampled.
    Deferred,
}

impl Sampling {
    /// Reads a `Sampled` value; anything but `1`, `0` or `?` defers the decision.
    fn from_field(value: &str) -> Self {
        match value {
            SAMPLED_YES => Self::Sampled,
            SAMPLED_NO => Self::NotSampled,
            SAMPLED_DEFERRED => Self::Requested,
            _ => Self::Deferred,
        }
    }

    /// Whether the caller left the decision to the receiver (`Sampled=?`,
    /// missing or unknown).
    pub fn is_deferred(self) -> bool {
        matches!(self, Self::Requested | Self::Deferred)
    }

    /// The decision of a span that exists: it is either sampled or not.
    fn from_sampled(sampled: bool) -> Self {
        if sampled {
            Self::Sampled
        } else {
            Self::NotSampled
        }
    }

    /// The `Sampled` value written for this decision: none when the field
    /// was missing (or unknown), so what was read is written back.
    const fn as_field(self) -> Option<&'static str> {
        match self {
            Self::Sampled => Some(SAMPLED_YES),
            Self::NotSampled => Some(SAMPLED_NO),
            Self::Requested => Some(SAMPLED_DEFERRED),
            Self::Deferred => None,
        }
    }

    /// The W3C trace flags of a remote parent: only an explicit `Sampled=1` is sampled.
    fn trace_flags(self) -> TraceFlags {
        match self {
            Self::Sampled => TraceFlags::SAMPLED,
            Self::NotSampled | Self::Requested | Self::Deferred => TraceFlags::NOT_SAMPLED,
        }
    }
}

/// A parsed `X-Amzn-Trace-Id` header value.
///
/// ```
/// use opentelemetry::trace::{SpanId, TraceId};
/// use xray_runtime::propagation::{Sampling, XrayHeader};
///
/// let value = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
/// let header: XrayHeader = value.parse().unwrap();
/// assert_eq!(header.trace_id, TraceId::from(0x5759e988_bd862e3fe1be46a994272793));
/// assert_eq!(header.parent_id, Some(SpanId::from(0x53995c3f42cd8ad8)));
/// assert_eq!(header.sampling, Sampling::Sampled);
/// assert_eq!(header.to_string(), value);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XrayHeader {
    /// The trace id, from the 32 hex digits of `Root`.
    pub trace_id: TraceId,
    /// The caller's span id from `Parent`; `None` when a load balancer started the trace.
    pub parent_id: Option<SpanId>,
    /// The sampling decision from `Sampled`.
    pub sampling: Sampling,
    /// The `Lineage` field, kept only when well formed.
    pub lineage: Option<String>,
}

impl XrayHeader {
    /// Parses a header value; `None` when it is not a usable X-Ray header.
    ///
    /// Fields are separated by `;` and may come in any order, with spaces or tabs around
    /// fields, keys and values. Keys are case-insensitive. Unknown and empty fields are
    /// ignored. The value is rejected when it is longer than [`MAX_HEADER_LEN`] bytes,
    /// when `Root` is missing or malformed, when `Parent` is present but malformed, or when
    /// `Root`, `Parent` or `Sampled` appears twice. A malformed `Lineage` is dropped and the
    /// rest of the header kept. Never panics.
    ///
    /// ```
    /// use xray_runtime::propagation::{Sampling, XrayHeader};
    ///
    /// // A load balancer's first hop: no parent yet, the receiver decides sampling.
    /// let header = XrayHeader::parse(
    ///     "Self=1-67891234-12456789abcdef012345678;Root=1-5759e988-bd862e3fe1be46a994272793",
    /// )
    /// .unwrap();
    /// assert_eq!(header.parent_id, None);
    /// assert_eq!(header.sampling, Sampling::Deferred);
    ///
    /// assert_eq!(XrayHeader::parse("Root=2-5759e988-bd862e3fe1be46a994272793"), None);
    /// ```
    #[must_use]
    pub fn parse(value: &str) -> Option<Self> {
        if value.len() > MAX_HEADER_LEN {
            return None;
        }
        let fields = RawFields::collect(value)?;
        let trace_id = parse_root(fields.root?)?;
        // A `Parent` that is present but malformed rejects the whole header instead of being
        // dropped: a corrupt header must not half-continue a trace. Keeping its `Root` would
        // attach our spans to a trace whose caller we cannot name, and the rest of the
        // header (its sampling decision) is no more trustworthy than the broken part.
        let parent_id = match fields.parent {
            Some(parent) => Some(parse_parent(parent)?),
            None => None,
        };
        let sampling = fields
            .sampled
            .map_or(Sampling::Deferred, Sampling::from_field);
        let lineage = fields
            .lineage
            .filter(|lineage| !fields.lineage_repeated && is_valid_lineage(lineage))
            .map(str::to_owned);
        Some(Self {
            trace_id,
            parent_id,
            sampling,
            lineage,
        })
    }

    /// Writes the header value in the canonical form of the X-Ray SDKs: `Root`, then
    /// `Parent` when present, `Sampled` (`1`, `0` or `?`; absent for a header that had
    /// none), and `Lineage` when present.
    ///
    /// ```
    /// use opentelemetry::trace::TraceId;
    /// use xray_runtime::propagation::{Sampling, XrayHeader};
    ///
    /// let header = XrayHeader {
    ///     trace_id: TraceId::from(0x5759e988_bd862e3fe1be46a994272793),
    ///     parent_id: None,
    ///     sampling: Sampling::Requested,
    ///     lineage: None,
    /// };
    /// assert_eq!(
    ///     header.to_header_value(),
    ///     "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?"
    /// );
    /// ```
    #[must_use]
    pub fn to_header_value(&self) -> String {
        // By hand rather than through `fmt`: headers are written on every
        // outgoing request.
        let lineage = self.lineage.as_deref().unwrap_or_default();
        let mut out = String::with_capacity(80 + lineage.len());
        out.push_str(ROOT_KEY);
        out.push(KEY_VALUE_SEPARATOR);
        push_xray_trace_id(&mut out, self.trace_id);
        if let Some(parent_id) = self.parent_id {
            out.push(FIELD_SEPARATOR);
            out.push_str(PARENT_KEY);
            out.push(KEY_VALUE_SEPARATOR);
            push_hex(
                &mut out,
                u64::from_be_bytes(parent_id.to_bytes()).into(),
                PARENT_DIGITS,
            );
        }
        if let Some(sampled) = self.sampling.as_field() {
            out.push(FIELD_SEPARATOR);
            out.push_str(SAMPLED_KEY);
            out.push(KEY_VALUE_SEPARATOR);
            out.push_str(sampled);
        }
        if self.lineage.is_some() {
            out.push(FIELD_SEPARATOR);
            out.push_str(LINEAGE_KEY);
            out.push(KEY_VALUE_SEPARATOR);
            out.push_str(lineage);
        }
        out
    }

    /// The caller's span context (remote, with the header's sampling
    /// decision), when the header names a parent: what a consumer links to.
    ///
    /// ```
    /// use xray_runtime::propagation::XrayHeader;
    ///
    /// let header: XrayHeader =
    ///     "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    ///         .parse()
    ///         .unwrap();
    /// let context = header.span_context().unwrap();
    /// assert!(context.is_remote() && context.is_sampled());
    /// assert_eq!(XrayHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793").unwrap().span_context(), None);
    /// ```
    #[must_use]
    pub fn span_context(&self) -> Option<SpanContext> {
        self.remote_span_context()
    }

    /// The span context of the caller, when the header names one.
    fn remote_span_context(&self) -> Option<SpanContext> {
        let parent_id = self.parent_id?;
        Some(SpanContext::new(
            self.trace_id,
            parent_id,
            self.sampling.trace_flags(),
            true,
            TraceState::default(),
        ))
    }
}

impl fmt::Display for XrayHeader {
    /// Same output as [`XrayHeader::to_header_value`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_header_value())
    }
}

/// Appends the `digits` (at most 32) low hex digits of `value` (lower
/// case, zero-padded).
fn push_hex(out: &mut String, value: u128, digits: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digits = digits.min(32);
    let mut buffer = [0u8; 32];
    for (i, slot) in buffer[..digits].iter_mut().enumerate() {
        let shift = (digits - 1 - i) * 4;
        *slot = HEX[((value >> shift) & 0xf) as usize];
    }
    out.push_str(std::str::from_utf8(&buffer[..digits]).unwrap_or_default());
}

/// Appends a trace id in X-Ray's `1-{8 hex}-{24 hex}` form.
fn push_xray_trace_id(out: &mut String, trace_id: TraceId) {
    let id = u128::from_be_bytes(trace_id.to_bytes());
    out.push_str(ROOT_VERSION_PREFIX);
    push_hex(out, id >> ROOT_UNIQUE_BITS, ROOT_EPOCH_DIGITS);
    out.push(ROOT_PART_SEPARATOR);
    push_hex(out, id & ROOT_UNIQUE_MASK, ROOT_UNIQUE_DIGITS);
}

/// The W3C Trace Context propagator: the OpenTelemetry SDK's, with the
/// headers it injects (`traceparent`, `tracestate`, the same values)
/// written by hand, as they are on every outgoing request.
#[derive(Debug, Default)]
pub(crate) struct TraceContext(opentelemetry_sdk::propagation::TraceContextPropagator);

/// `traceparent`, `tracestate`: the headers of W3C Trace Context.
const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";

impl TraceContext {
    pub(crate) fn new() -> Self {
        Self::default()
    }
}

impl TextMapPropagator for TraceContext {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let span_context = span.span_context();
        if !span_context.is_valid() {
            return;
        }
        let mut value = String::with_capacity(55);
        value.push_str("00-");
        push_hex(
            &mut value,
            u128::from_be_bytes(span_context.trace_id().to_bytes()),
            32,
        );
        value.push('-');
        push_hex(
            &mut value,
            u64::from_be_bytes(span_context.span_id().to_bytes()).into(),
            16,
        );
        value.push_str(if span_context.is_sampled() {
            "-01"
        } else {
            "-00"
        });
        injector.set(TRACEPARENT, value);
        injector.set(TRACESTATE, span_context.trace_state().header());
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        self.0.extract_with_context(cx, extractor)
    }

    fn fields(&self) -> FieldIter<'_> {
        self.0.fields()
    }
}

impl FromStr for XrayHeader {
    type Err = InvalidHeader;

    /// Same rules as [`XrayHeader::parse`].
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse(value).ok_or(InvalidHeader)
    }
}

/// The error of parsing an `X-Amzn-Trace-Id` value with [`str::parse`].
///
/// ```
/// use xray_runtime::propagation::{InvalidHeader, XrayHeader};
///
/// let error = "Root=garbage".parse::<XrayHeader>().unwrap_err();
/// assert_eq!(error, InvalidHeader);
/// assert_eq!(error.to_string(), "invalid X-Amzn-Trace-Id header");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InvalidHeader;

impl fmt::Display for InvalidHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid X-Amzn-Trace-Id header")
    }
}

impl std::error::Error for InvalidHeader {}

/// Formats any trace id in X-Ray's `1-{8 hex}-{24 hex}` form.
///
/// ```
/// use opentelemetry::trace::TraceId;
/// use xray_runtime::propagation::xray_trace_id;
///
/// let trace_id = TraceId::from(0x5759e988_bd862e3fe1be46a994272793);
/// assert_eq!(xray_trace_id(trace_id), "1-5759e988-bd862e3fe1be46a994272793");
/// ```
#[must_use]
pub fn xray_trace_id(trace_id: TraceId) -> String {
    XrayTraceId(trace_id).to_string()
}

/// Displays a trace id in X-Ray form, as the value of `Root`, without allocating.
pub(crate) struct XrayTraceId(pub(crate) TraceId);

impl fmt::Display for XrayTraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::with_capacity(35);
        push_xray_trace_id(&mut out, self.0);
        f.write_str(&out)
    }
}

/// The known fields of a header value, not yet validated.
#[derive(Default)]
struct RawFields<'a> {
    root: Option<&'a str>,
    parent: Option<&'a str>,
    sampled: Option<&'a str>,
    lineage: Option<&'a str>,
    lineage_repeated: bool,
}

impl<'a> RawFields<'a> {
    /// Splits a header value into fields; `None` when `Root`, `Parent` or `Sampled` repeats.
    fn collect(value: &'a str) -> Option<Self> {
        let mut fields = Self::default();
        for field in value.split(FIELD_SEPARATOR).map(trim_blanks) {
            if field.is_empty() {
                continue;
            }
            // A field without `=` is a key with an empty value: ignored when unknown,
            // invalid when it is `Root` or `Parent`.
            let (key, value) = field.split_once(KEY_VALUE_SEPARATOR).unwrap_or((field, ""));
            let (key, value) = (trim_blanks(key), trim_blanks(value));
            let slot = if key.eq_ignore_ascii_case(ROOT_KEY) {
                &mut fields.root
            } else if key.eq_ignore_ascii_case(PARENT_KEY) {
                &mut fields.parent
            } else if key.eq_ignore_ascii_case(SAMPLED_KEY) {
                &mut fields.sampled
            } else if key.eq_ignore_ascii_case(LINEAGE_KEY) {
                // Two lineages are ambiguous: drop the lineage, keep the header.
                fields.lineage_repeated |= fields.lineage.replace(value).is_some();
                continue;
            } else {
                // `Self`, `CalledFrom` and fields yet to be invented.
                continue;
            };
            if slot.replace(value).is_some() {
                return None;
            }
        }
        Some(fields)
    }
}

/// Trims the optional whitespace HTTP allows: spaces and tabs.
fn trim_blanks(value: &str) -> &str {
    value.trim_matches([' ', '\t'])
}

/// Parses `1-{8 hex}-{24 hex}` into a non-zero trace id.
fn parse_root(value: &str) -> Option<TraceId> {
    let (epoch, unique) = value
        .strip_prefix(ROOT_VERSION_PREFIX)?
        .split_once(ROOT_PART_SEPARATOR)?;
    let epoch = parse_hex(epoch, ROOT_EPOCH_DIGITS)?;
    let unique = parse_hex(unique, ROOT_UNIQUE_DIGITS)?;
    let id = (epoch << ROOT_UNIQUE_BITS) | unique;
    (id != 0).then_some(TraceId::from(id))
}

/// Parses 16 hex digits into a non-zero span id.
fn parse_parent(value: &str) -> Option<SpanId> {
    let id = u64::try_from(parse_hex(value, PARENT_DIGITS)?).ok()?;
    (id != 0).then_some(SpanId::from(id))
}

/// Parses exactly `digits` hex digits of either case: no sign, prefix or whitespace
/// (unlike `from_str_radix`, which accepts a leading `+`). At most 32 digits fit a `u128`.
fn parse_hex(value: &str, digits: usize) -> Option<u128> {
    if value.len() != digits || digits > 32 {
        return None;
    }
    value.bytes().try_fold(0_u128, |id, byte| {
        let digit = char::from(byte).to_digit(16)?;
        Some((id << 4) | u128::from(digit))
    })
}

/// `Lineage` is 1 to 64 characters of `[0-9a-zA-Z:|]`, e.g. `a87bd80c:1|68fd508a:5`.
fn is_valid_lineage(value: &str) -> bool {
    (1..=MAX_LINEAGE_LEN).contains(&value.len())
        && value
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b':' || byte == b'|')
}

/// What extraction leaves in the [`Context`] next to the remote span context: the whole
/// incoming header.
///
/// It lets the runtime keep the trace id of a `Root`-only header (which has no parent span
/// to put in the context), tell a deferred sampling decision from a negative one (both are
/// "not sampled" in the span context's flags), and pass the `Lineage` on.
///
/// ```
/// use std::collections::HashMap;
///
/// use opentelemetry::Context;
/// use opentelemetry::propagation::TextMapPropagator;
/// use xray_runtime::propagation::{IncomingXray, Sampling, XRAY_HEADER, XrayPropagator};
///
/// let carrier = HashMap::from([(
///     XRAY_HEADER.to_owned(),
///     "Root=1-5759e988-bd862e3fe1be46a994272793".to_owned(),
/// )]);
/// let cx = XrayPropagator::new().extract_with_context(&Context::new(), &carrier);
///
/// let incoming = cx.get::<IncomingXray>().unwrap();
/// assert_eq!(incoming.header.parent_id, None);
/// assert_eq!(incoming.header.sampling, Sampling::Deferred);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncomingXray {
    /// The header as it was received.
    pub header: XrayHeader,
}

static XRAY_FIELDS: LazyLock<[String; 1]> = LazyLock::new(|| [XRAY_HEADER.to_owned()]);

/// The OpenTelemetry propagator for the `X-Amzn-Trace-Id` header.
///
/// Extraction puts the caller's span context (when the header has a `Parent`) and an
/// [`IncomingXray`] in the context; an invalid or missing header leaves the context as it
/// was. Injection writes the current span as the parent, with `Sampled=1` or `Sampled=0`
/// from the span's flags, and the incoming `Lineage` of the same trace.
///
/// The propagator only carries the caller's decision: for `Sampled=?` the extracted span
/// context is not sampled, and it is the runtime's sampler (reading [`IncomingXray`]) that
/// decides for the new span, whose flags the next injection writes.
///
/// ```
/// use std::collections::HashMap;
///
/// use opentelemetry::Context;
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::trace::TraceContextExt;
/// use xray_runtime::propagation::{XRAY_HEADER, XrayPropagator};
///
/// let carrier = HashMap::from([(
///     XRAY_HEADER.to_owned(),
///     "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?".to_owned(),
/// )]);
/// let propagator = XrayPropagator::new();
/// let cx = propagator.extract_with_context(&Context::new(), &carrier);
/// assert!(cx.span().span_context().is_remote());
///
/// let mut outgoing = HashMap::new();
/// propagator.inject_context(&cx, &mut outgoing);
/// assert_eq!(
///     outgoing[XRAY_HEADER],
///     "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"
/// );
/// ```
#[derive(Clone, Debug, Default)]
pub struct XrayPropagator {
    lambda: bool,
}

impl XrayPropagator {
    /// A propagator that reads the header from the carrier only.
    ///
    /// ```
    /// use opentelemetry::propagation::TextMapPropagator;
    /// use xray_runtime::propagation::{XRAY_HEADER, XrayPropagator};
    ///
    /// let propagator = XrayPropagator::new();
    /// assert!(propagator.fields().eq([XRAY_HEADER]));
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self { lambda: false }
    }

    /// A propagator for AWS Lambda: a valid header in [`LAMBDA_TRACE_ENV`] wins over the
    /// carrier, as in the Java `AwsXrayLambdaPropagator`; otherwise the carrier is read.
    ///
    /// ```
    /// use std::collections::HashMap;
    ///
    /// use opentelemetry::Context;
    /// use opentelemetry::propagation::TextMapPropagator;
    /// use opentelemetry::trace::TraceContextExt;
    /// use xray_runtime::propagation::{XRAY_HEADER, XrayPropagator};
    ///
    /// // Inside Lambda, `_X_AMZN_TRACE_ID` holds the invocation's header and is used;
    /// // elsewhere the carrier's header is.
    /// let carrier = HashMap::from([(
    ///     XRAY_HEADER.to_owned(),
    ///     "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".to_owned(),
    /// )]);
    /// let cx = XrayPropagator::lambda().extract_with_context(&Context::new(), &carrier);
    /// assert!(cx.span().span_context().is_valid());
    /// ```
    #[must_use]
    pub fn lambda() -> Self {
        Self { lambda: true }
    }

    /// The header to continue: the Lambda environment's when valid, else the carrier's.
    fn incoming_header(&self, extractor: &dyn Extractor) -> Option<XrayHeader> {
        self.lambda
            .then(lambda_env_header)
            .flatten()
            .or_else(|| carrier_header(extractor))
    }
}

impl TextMapPropagator for XrayPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let span_context = span.span_context();
        if !span_context.is_valid() {
            return;
        }
        let header = XrayHeader {
            trace_id: span_context.trace_id(),
            parent_id: Some(span_context.span_id()),
            sampling: Sampling::from_sampled(span_context.is_sampled()),
            lineage: incoming_lineage(cx, span_context.trace_id()),
        };
        injector.set(XRAY_HEADER, header.to_header_value());
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        match self.incoming_header(extractor) {
            Some(header) => context_with_header(cx, header),
            None => cx.clone(),
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&*XRAY_FIELDS)
    }
}

/// The header Lambda put in the environment, when valid.
fn lambda_env_header() -> Option<XrayHeader> {
    std::env::var(LAMBDA_TRACE_ENV)
        .ok()
        .as_deref()
        .and_then(XrayHeader::parse)
}

/// The carrier's header, when valid; the AWS spelling is tried for case-sensitive carriers.
fn carrier_header(extractor: &dyn Extractor) -> Option<XrayHeader> {
    extractor
        .get(XRAY_HEADER)
        .or_else(|| extractor.get(XRAY_HEADER_CANONICAL))
        .and_then(XrayHeader::parse)
}

/// `cx` continuing the trace of a valid incoming header.
fn context_with_header(cx: &Context, header: XrayHeader) -> Context {
    let remote = header.remote_span_context();
    let incoming = IncomingXray { header };
    match remote {
        Some(span_context) => cx
            .with_remote_span_context(span_context)
            .with_value(incoming),
        // No parent span id, so no span context: only the header is kept.
        None => cx.with_value(incoming),
    }
}

/// The incoming `Lineage` to pass on, only within the trace it arrived with.
fn incoming_lineage(cx: &Context, trace_id: TraceId) -> Option<String> {
    cx.get::<IncomingXray>()
        .map(|incoming| &incoming.header)
        .filter(|header| header.trace_id == trace_id)
        .and_then(|header| header.lineage.as_deref())
        .filter(|lineage| is_valid_lineage(lineage))
        .map(str::to_owned)
}

/// Anything that can be read like HTTP headers.
///
/// Name lookup is case-insensitive; making it so is the implementor's job.
///
/// ```
/// use std::collections::HashMap;
///
/// use xray_runtime::propagation::HeaderGetter;
///
/// let headers = HashMap::from([("X-Amzn-Trace-Id".to_owned(), "Root=1-...".to_owned())]);
/// assert_eq!(headers.get_header("x-amzn-trace-id"), Some("Root=1-..."));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be read as request headers",
    label = "not headers",
    note = "`headers = ...` takes `&http::HeaderMap`, a `HashMap<String, String>`, a slice of `(&str, &str)` pairs, or your own type implementing `xray_runtime::propagation::HeaderGetter`; for a raw X-Amzn-Trace-Id value use `trace_header = ...`"
)]
pub trait HeaderGetter {
    /// The value of the header `name`, matched case-insensitively.
    ///
    /// ```
    /// use xray_runtime::propagation::HeaderGetter;
    ///
    /// let headers = vec![("Content-Type".to_owned(), "text/plain".to_owned())];
    /// assert_eq!(headers.get_header("content-type"), Some("text/plain"));
    /// assert_eq!(headers.get_header("accept"), None);
    /// ```
    fn get_header(&self, name: &str) -> Option<&str>;

    /// The names of all headers.
    ///
    /// ```
    /// use xray_runtime::propagation::HeaderGetter;
    ///
    /// let headers: &[(&str, &str)] = &[("a", "1"), ("b", "2")];
    /// assert_eq!(headers.header_names(), ["a", "b"]);
    /// ```
    fn header_names(&self) -> Vec<&str>;
}

/// The value of the first pair whose name matches `name` case-insensitively.
fn find_ignore_case<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    name: &str,
) -> Option<&'a str> {
    pairs
        .into_iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}

impl<S: BuildHasher> HeaderGetter for HashMap<String, String, S> {
    fn get_header(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str).or_else(|| {
            find_ignore_case(
                self.iter()
                    .map(|(key, value)| (key.as_str(), value.as_str())),
                name,
            )
        })
    }

    fn header_names(&self) -> Vec<&str> {
        self.keys().map(String::as_str).collect()
    }
}

impl HeaderGetter for [(&str, &str)] {
    fn get_header(&self, name: &str) -> Option<&str> {
        find_ignore_case(self.iter().copied(), name)
    }

    fn header_names(&self) -> Vec<&str> {
        self.iter().map(|(key, _)| *key).collect()
    }
}

impl HeaderGetter for [(String, String)] {
    fn get_header(&self, name: &str) -> Option<&str> {
        find_ignore_case(
            self.iter()
                .map(|(key, value)| (key.as_str(), value.as_str())),
            name,
        )
    }

    fn header_names(&self) -> Vec<&str> {
        self.iter().map(|(key, _)| key.as_str()).collect()
    }
}

impl<T> HeaderGetter for Vec<T>
where
    [T]: HeaderGetter,
{
    fn get_header(&self, name: &str) -> Option<&str> {
        self.as_slice().get_header(name)
    }

    fn header_names(&self) -> Vec<&str> {
        self.as_slice().header_names()
    }
}

/// Values that are not visible ASCII are treated as absent.
#[cfg(feature = "http")]
impl HeaderGetter for http::HeaderMap {
    fn get_header(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|value| value.to_str().ok())
    }

    fn header_names(&self) -> Vec<&str> {
        self.keys().map(http::HeaderName::as_str).collect()
    }
}

impl<T: HeaderGetter + ?Sized> HeaderGetter for &T {
    fn get_header(&self, name: &str) -> Option<&str> {
        (**self).get_header(name)
    }

    fn header_names(&self) -> Vec<&str> {
        (**self).header_names()
    }
}

/// Reads any [`HeaderGetter`] as an OpenTelemetry [`Extractor`], so that it can be fed to
/// any [`TextMapPropagator`].
///
/// ```
/// use opentelemetry::Context;
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::trace::TraceContextExt;
/// use xray_runtime::propagation::{HeaderExtractor, XrayPropagator};
///
/// let headers: &[(&str, &str)] = &[(
///     "X-Amzn-Trace-Id",
///     "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
/// )];
/// let cx = XrayPropagator::new().extract_with_context(&Context::new(), &HeaderExtractor(headers));
/// assert!(cx.span().span_context().is_sampled());
/// ```
pub struct HeaderExtractor<'a, H: ?Sized>(pub &'a H);

impl<H: ?Sized> Clone for HeaderExtractor<'_, H> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<H: ?Sized> Copy for HeaderExtractor<'_, H> {}

impl<H: HeaderGetter + ?Sized> Extractor for HeaderExtractor<'_, H> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get_header(key)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.header_names()
    }
}

/// Writes OpenTelemetry propagation fields into an `http::HeaderMap`.
///
/// Names and values that are not valid in a header (values must be visible ASCII) are
/// skipped; setting a header replaces its previous values. Never panics.
///
/// ```
/// use std::collections::HashMap;
///
/// use opentelemetry::Context;
/// use opentelemetry::propagation::TextMapPropagator;
/// use xray_runtime::propagation::{HeaderInjector, XRAY_HEADER, XrayPropagator};
///
/// let value = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
/// let incoming = HashMap::from([(XRAY_HEADER.to_owned(), value.to_owned())]);
/// let propagator = XrayPropagator::new();
/// let cx = propagator.extract_with_context(&Context::new(), &incoming);
///
/// let mut headers = http::HeaderMap::new();
/// propagator.inject_context(&cx, &mut HeaderInjector(&mut headers));
/// assert_eq!(headers["X-Amzn-Trace-Id"], value);
/// ```
#[cfg(feature = "http")]
pub struct HeaderInjector<'a>(pub &'a mut http::HeaderMap);

#[cfg(feature = "http")]
impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if !value.bytes().all(is_visible_ascii) {
            return;
        }
        let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::try_from(value),
        ) else {
            return;
        };
        // Fails only when the map is full; a missing header beats a panic.
        let _ = self.0.try_insert(name, value);
    }

    fn reserve(&mut self, additional: usize) {
        // A hint only: when it cannot be honoured, `set` still works or skips.
        let _ = self.0.try_reserve(additional);
    }
}

/// Visible ASCII or a tab: what `HeaderValue::to_str` accepts back.
#[cfg(feature = "http")]
fn is_visible_ascii(byte: u8) -> bool {
    byte == b'\t' || (b' '..=b'~').contains(&byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
    const TRACE: u128 = 0x5759e988_bd862e3fe1be46a994272793;
    const PARENT: u64 = 0x53995c3f42cd8ad8;
    const CANONICAL: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

    fn header(parent: Option<u64>, sampling: Sampling, lineage: Option<&str>) -> XrayHeader {
        XrayHeader {
            trace_id: TraceId::from(TRACE),
            parent_id: parent.map(SpanId::from),
            sampling,
            lineage: lineage.map(str::to_owned),
        }
    }

    fn carrier(value: &str) -> HashMap<String, String> {
        HashMap::from([(XRAY_HEADER.to_owned(), value.to_owned())])
    }

    #[test]
    fn trace_context_writes_what_the_sdk_writes() {
        let sdk = opentelemetry_sdk::propagation::TraceContextPropagator::new();
        let state = TraceState::from_key_value([("vendor", "value")]).unwrap();
        for (trace, span, flags, state) in [
            (TRACE, PARENT, TraceFlags::SAMPLED, TraceState::default()),
            (1, 0x00ff, TraceFlags::default(), state),
            (
                u128::MAX,
                u64::MAX,
                TraceFlags::SAMPLED,
                TraceState::default(),
            ),
        ] {
            let cx = Context::new().with_remote_span_context(SpanContext::new(
                TraceId::from(trace),
                SpanId::from(span),
                flags,
                true,
                state,
            ));
            let (mut ours, mut theirs) = (HashMap::new(), HashMap::new());
            TraceContext::new().inject_context(&cx, &mut ours);
            sdk.inject_context(&cx, &mut theirs);
            assert_eq!(ours, theirs);
        }
        let mut none = HashMap::new();
        TraceContext::new().inject_context(&Context::new(), &mut none);
        assert!(none.is_empty());
    }

    fn extract(propagator: &XrayPropagator, value: &str) -> Context {
        propagator.extract_with_context(&Context::new(), &carrier(value))
    }

    fn inject(propagator: &XrayPropagator, cx: &Context) -> HashMap<String, String> {
        let mut outgoing = HashMap::new();
        propagator.inject_context(cx, &mut outgoing);
        outgoing
    }

    /// Parses as X-Ray and, with the same rules, rejects.
    #[rustfmt::skip]
    fn valid_cases() -> Vec<(&'static str, XrayHeader, &'static str)> {
        use Sampling::*;
        let p = Some(PARENT);
        vec![
            ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1", header(p, Sampled, None), "canonical ALB/SDK header"),
            ("Root=1-5759e988-bd862e3fe1be46a994272793; Parent=53995c3f42cd8ad8; Sampled=1", header(p, Sampled, None), "space after ';' as some SDKs write it"),
            (" Root = 1-5759e988-bd862e3fe1be46a994272793 ;\tParent=\t53995c3f42cd8ad8\t; Sampled= 1 ", header(p, Sampled, None), "spaces and tabs around fields, keys and values"),
            ("root=1-5759e988-bd862e3fe1be46a994272793;parent=53995c3f42cd8ad8;sampled=1", header(p, Sampled, None), "lowercase keys"),
            ("ROOT=1-5759e988-bd862e3fe1be46a994272793;PARENT=53995c3f42cd8ad8;SAMPLED=0", header(p, NotSampled, None), "uppercase keys"),
            ("Sampled=1;Parent=53995c3f42cd8ad8;Root=1-5759e988-bd862e3fe1be46a994272793", header(p, Sampled, None), "fields in any order"),
            ("Root=1-5759E988-BD862E3FE1BE46A994272793;Parent=53995C3F42CD8AD8;Sampled=1", header(p, Sampled, None), "uppercase hex accepted"),
            ("Self=1-67891234-12456789abcdef012345678;Root=1-5759e988-bd862e3fe1be46a994272793", header(None, Deferred, None), "ALB first hop: Self then Root, no Parent"),
            ("Self=1-67891234-12456789abcdef012345678;Root=1-5759e988-bd862e3fe1be46a994272793;CalledFrom=app", header(None, Deferred, None), "ALB with CalledFrom"),
            ("Root=1-5759e988-bd862e3fe1be46a994272793", header(None, Deferred, None), "Root only"),
            ("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1", header(None, Sampled, None), "Root and Sampled without Parent"),
            ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?", header(p, Requested, None), "Sampled=? asks the receiver to decide"),
            ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8", header(p, Deferred, None), "missing Sampled defers the decision"),
            ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0", header(p, NotSampled, None), "Sampled=0"),
            ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=2", header(p, Deferred, None), "unknown Sampled value is Deferred, never sampled"),
            ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=yes", header(p, Deferred, None), "word Sampled value is Deferred"),
            ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=", header(p, Deferred, None), "empty Sampled value is Deferred"),
            ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=32767:e65a2c4d:255", header(p, Sampled, Some("32767:e65a2c4d:255")), "Lineage kept"),
            ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1|68fd508a:5", header(p, Sampled, Some("a87bd80c:1|68fd508a:5")), "multi-hop Lineage kept"),
            ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", header(p, Sampled, Some("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")), "64-char Lineage kept"),
            ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", header(p, Sampled, None), "65-char Lineage dropped, header kept"),
            ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=bad lineage!", header(p, Sampled, None), "Lineage with bad characters dropped, header kept"),
            ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=", header(p, Sampled, None), "empty Lineage dropped"),
            ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=1:a:1;Lineage=2:b:2", header(p, Sampled, None), "ambiguous duplicate Lineage dropped"),
            ("Root=1-5759e988-bd862e3fe1be46a994272793;Foo=bar;Parent=53995c3f42cd8ad8;Sampled=1", header(p, Sampled, None), "unknown field ignored"),
            ("Root=1-5759e988-bd862e3fe1be46a994272793;Bad Key=x;Parent=53995c3f42cd8ad8;Sampled=1", header(p, Sampled, None), "unknown key with a space ignored"),
            ("Root=1-5759e988-bd862e3fe1be46a994272793;junk;Parent=53995c3f42cd8ad8;Sampled=1", header(p, Sampled, None), "field without '=' ignored"),
            ("Root=1-5759e988-bd862e3fe1be46a994272793;Röot=é;Parent=53995c3f42cd8ad8", header(p, Deferred, None), "non-ASCII unknown field ignored"),
            (";Root=1-5759e988-bd862e3fe1be46a994272793;;Parent=53995c3f42cd8ad8;Sampled=1;", header(p, Sampled, None), "empty fields and trailing ';' ignored"),
        ]
    }

    /// Must be rejected (and not panic).
    #[rustfmt::skip]
    const INVALID_CASES: &[(&str, &str)] = &[
        ("", "empty string"),
        (";", "only a separator"),
        (" ; ;\t", "only separators and blanks"),
        ("hello world", "random garbage"),
        ("=;=;=", "keys and values all empty"),
        ("Parent=53995c3f42cd8ad8;Sampled=1", "missing Root"),
        ("Root", "Root without '='"),
        ("Root=", "empty Root"),
        ("Root==1-5759e988-bd862e3fe1be46a994272793", "Root value starting with '='"),
        ("Root=2-5759e988-bd862e3fe1be46a994272793", "wrong version 2"),
        ("Root=5759e988-bd862e3fe1be46a994272793", "missing version"),
        ("Root=1-5759e98-bd862e3fe1be46a994272793", "7-digit epoch"),
        ("Root=1-5759e9881-bd862e3fe1be46a994272793", "9-digit epoch"),
        ("Root=1-5759e988-bd862e3fe1be46a99427279", "23-digit unique part"),
        ("Root=1-5759e988-bd862e3fe1be46a9942727930", "25-digit unique part"),
        ("Root=1-5759e98g-bd862e3fe1be46a994272793", "non-hex epoch"),
        ("Root=1-5759e988-bd862e3fe1be46a99427279z", "non-hex unique part"),
        ("Root=1-+759e988-bd862e3fe1be46a994272793", "sign accepted by from_str_radix"),
        ("Root=1-5759e988-bd862e3f e1be46a99427279", "space inside Root"),
        ("Root=1-5759e988bd862e3fe1be46a994272793", "missing second dash"),
        ("Root=1-5759e988-bd862e3f-e1be46a99427279", "extra dash"),
        ("Root=1-00000000-000000000000000000000000", "all-zero trace id"),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad", "15-digit Parent"),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad80", "17-digit Parent"),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8adz", "non-hex Parent"),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=+3995c3f42cd8ad8", "signed Parent"),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=0000000000000000;Sampled=1", "zero Parent"),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=;Sampled=1", "empty Parent"),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent", "Parent without '='"),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Root=1-5759e988-bd862e3fe1be46a994272793", "duplicate Root, same value"),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;root=1-5759e988-bd862e3fe1be46a994272794", "duplicate Root, other case and value"),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Parent=53995c3f42cd8ad9", "duplicate Parent"),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1;Sampled=1", "duplicate Sampled"),
        ("Root=1-5759e988-bd862e3fe1be46a99427279é", "multibyte char at the end of Root"),
        ("Root=1-5759e988-bd862e3fe1be46a9942727é", "multibyte char making Root exactly 24 bytes"),
        ("Root=1-5759e9é-bd862e3fe1be46a994272793", "multibyte char making the epoch 8 bytes"),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8aé", "multibyte char making Parent 16 bytes"),
        ("Root=1\u{2010}5759e988\u{2010}bd862e3fe1be46a994272793", "Unicode hyphens"),
        ("Root=１-5759e988-bd862e3fe1be46a994272793", "fullwidth digit version"),
        ("Röot=1-5759e988-bd862e3fe1be46a994272793", "non-ASCII key is not Root"),
        ("Root=1-5759e988-bd862e3fe1be46a994272793\u{0};Parent=53995c3f42cd8ad8", "NUL inside Root"),
        ("🦀🦀🦀;🦀=🦀", "emoji"),
    ];

    #[test]
    fn parses_valid_headers() {
        for (input, expected, reason) in valid_cases() {
            assert_eq!(
                XrayHeader::parse(input),
                Some(expected),
                "{reason}: {input:?}"
            );
        }
    }

    #[test]
    fn rejects_invalid_headers() {
        for (input, reason) in INVALID_CASES {
            assert_eq!(XrayHeader::parse(input), None, "{reason}: {input:?}");
            assert_eq!(input.parse::<XrayHeader>(), Err(InvalidHeader), "{reason}");
        }
    }

    #[test]
    fn length_limit_applies_to_the_whole_value() {
        let prefix = format!("{CANONICAL};Pad=");
        let at_limit = format!("{prefix}{}", "x".repeat(MAX_HEADER_LEN - prefix.len()));
        let over_limit = format!("{at_limit}x");
        assert_eq!(at_limit.len(), MAX_HEADER_LEN);
        assert_eq!(
            XrayHeader::parse(&at_limit),
            Some(header(Some(PARENT), Sampling::Sampled, None)),
            "256 bytes is still parsed"
        );
        assert_eq!(
            XrayHeader::parse(&over_limit),
            None,
            "257 bytes is rejected"
        );
        // Fewer than 256 characters, more than 256 bytes.
        let multibyte = format!(
            "{prefix}{}",
            "é".repeat((MAX_HEADER_LEN - prefix.len()) / 2 + 1)
        );
        assert!(multibyte.chars().count() < MAX_HEADER_LEN);
        assert_eq!(XrayHeader::parse(&multibyte), None, "limit counts bytes");
    }

    #[test]
    fn parsed_headers_round_trip() {
        for (input, expected, reason) in valid_cases() {
            let written = expected.to_header_value();
            assert_eq!(written, expected.to_string(), "{reason}: Display");
            assert_eq!(
                XrayHeader::parse(&written),
                Some(expected),
                "{reason}: {input:?} written as {written:?}"
            );
        }
    }

    #[rustfmt::skip]
    #[test]
    fn writes_the_canonical_form() {
        use Sampling::*;
        let cases = [
            (header(Some(PARENT), Sampled, None), CANONICAL, "sampled with parent"),
            (header(Some(PARENT), NotSampled, None), "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0", "not sampled"),
            (header(Some(PARENT), Requested, None), "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?", "decision requested"),
            (header(None, Requested, None), "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?", "no parent"),
            (header(Some(PARENT), Deferred, None), "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8", "no Sampled field: none written back"),
            (header(Some(PARENT), Sampled, Some("32767:e65a2c4d:255")), "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=32767:e65a2c4d:255", "lineage last"),
            (XrayHeader { trace_id: TraceId::from(1), parent_id: Some(SpanId::from(1)), sampling: Sampled, lineage: None }, "Root=1-00000000-000000000000000000000001;Parent=0000000000000001;Sampled=1", "zero padding"),
        ];
        for (header, expected, reason) in cases {
            assert_eq!(header.to_header_value(), expected, "{reason}");
        }
    }

    #[rustfmt::skip]
    #[test]
    fn formats_xray_trace_ids() {
        let cases = [
            (TRACE, ROOT, "documentation example"),
            (1, "1-00000000-000000000000000000000001", "zero padding of both parts"),
            (u128::MAX, "1-ffffffff-ffffffffffffffffffffffff", "all bits set"),
            (0x00000001_000000000000000000000000, "1-00000001-000000000000000000000000", "epoch only"),
        ];
        for (id, expected, reason) in cases {
            assert_eq!(xray_trace_id(TraceId::from(id)), expected, "{reason}");
        }
    }

    #[test]
    fn invalid_header_error() {
        let error = "nope".parse::<XrayHeader>().unwrap_err();
        assert_eq!(error.to_string(), "invalid X-Amzn-Trace-Id header");
        let boxed: Box<dyn std::error::Error> = Box::new(error);
        assert!(boxed.source().is_none());
    }

    #[test]
    fn extract_then_inject_reproduces_the_header() {
        let propagator = XrayPropagator::new();
        let cx = extract(&propagator, CANONICAL);

        let span = cx.span();
        let span_context = span.span_context();
        assert!(span_context.is_valid());
        assert!(span_context.is_remote());
        assert!(span_context.is_sampled());
        assert_eq!(span_context.trace_id(), TraceId::from(TRACE));
        assert_eq!(span_context.span_id(), SpanId::from(PARENT));
        assert_eq!(
            cx.get::<IncomingXray>(),
            Some(&IncomingXray {
                header: header(Some(PARENT), Sampling::Sampled, None)
            })
        );

        let outgoing = inject(&propagator, &cx);
        assert_eq!(
            outgoing.get(XRAY_HEADER).map(String::as_str),
            Some(CANONICAL)
        );
        assert_eq!(outgoing.len(), 1);
    }

    #[rustfmt::skip]
    #[test]
    fn injection_writes_the_span_decision() {
        // The propagator never decides: for `?` the remote parent is not sampled, and the
        // runtime's span (sampled by the runtime's sampler) is what the next hop sees.
        let cases = [
            ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0", "deferred is injected as not sampled"),
            ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0", "missing Sampled is injected as not sampled"),
            ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0", "not sampled stays not sampled"),
            ("sampled=1; parent=53995C3F42CD8AD8; root=1-5759E988-BD862E3FE1BE46A994272793", CANONICAL, "sloppy input is injected canonically"),
            ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1|68fd508a:5", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1|68fd508a:5", "lineage passed on"),
        ];
        let propagator = XrayPropagator::new();
        for (incoming, expected, reason) in cases {
            let outgoing = inject(&propagator, &extract(&propagator, incoming));
            assert_eq!(outgoing.get(XRAY_HEADER).map(String::as_str), Some(expected), "{reason}");
        }
    }

    #[test]
    fn root_only_header_keeps_the_trace_id_without_a_span_context() {
        let propagator = XrayPropagator::new();
        let cx = extract(
            &propagator,
            "Self=1-67891234-12456789abcdef012345678;Root=1-5759e988-bd862e3fe1be46a994272793",
        );

        assert!(!cx.has_active_span());
        assert!(!cx.span().span_context().is_valid());
        let incoming = cx.get::<IncomingXray>().map(|incoming| &incoming.header);
        assert_eq!(incoming.map(|h| h.trace_id), Some(TraceId::from(TRACE)));
        assert_eq!(incoming.map(|h| h.sampling), Some(Sampling::Deferred));
        assert!(inject(&propagator, &cx).is_empty(), "nothing to inject yet");
    }

    #[derive(Debug, PartialEq)]
    struct Marker(u8);

    #[test]
    fn invalid_or_missing_header_leaves_the_context_unchanged() {
        let propagator = XrayPropagator::new();
        let parent = Context::new().with_value(Marker(7));
        for (name, value) in [
            (XRAY_HEADER, "Root=1-00000000-000000000000000000000000"),
            (
                XRAY_HEADER,
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=zz",
            ),
            ("traceparent", CANONICAL),
        ] {
            let incoming = HashMap::from([(name.to_owned(), value.to_owned())]);
            let cx = propagator.extract_with_context(&parent, &incoming);
            assert_eq!(cx.get::<Marker>(), Some(&Marker(7)), "{value}");
            assert!(cx.get::<IncomingXray>().is_none(), "{value}");
            assert!(!cx.has_active_span(), "{value}");
        }
    }

    /// An extractor with exact-case lookup, like some framework carriers.
    #[derive(Debug)]
    struct CaseSensitive(&'static str, &'static str);

    impl Extractor for CaseSensitive {
        fn get(&self, key: &str) -> Option<&str> {
            (key == self.0).then_some(self.1)
        }

        fn keys(&self) -> Vec<&str> {
            vec![self.0]
        }
    }

    #[test]
    fn extraction_tries_the_aws_spelling() {
        let propagator = XrayPropagator::new();
        let cx = propagator.extract_with_context(
            &Context::new(),
            &CaseSensitive("X-Amzn-Trace-Id", CANONICAL),
        );
        assert!(cx.span().span_context().is_valid());

        let cx = propagator.extract_with_context(
            &Context::new(),
            &CaseSensitive("X-AMZN-TRACE-ID", CANONICAL),
        );
        assert!(!cx.span().span_context().is_valid(), "only two spellings");
    }

    #[test]
    fn lineage_is_only_passed_on_within_its_trace() {
        let propagator = XrayPropagator::new();
        let cx = extract(
            &propagator,
            &format!("{CANONICAL};Lineage=32767:e65a2c4d:255"),
        );
        let other_trace = SpanContext::new(
            TraceId::from(0xabc),
            SpanId::from(0xdef),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        );
        let cx = cx.with_remote_span_context(other_trace);
        assert_eq!(
            inject(&propagator, &cx)
                .get(XRAY_HEADER)
                .map(String::as_str),
            Some("Root=1-00000000-000000000000000000000abc;Parent=0000000000000def;Sampled=1")
        );
    }

    #[test]
    fn nothing_is_injected_without_a_span() {
        assert!(inject(&XrayPropagator::new(), &Context::new()).is_empty());
        assert!(inject(&XrayPropagator::lambda(), &Context::new()).is_empty());
    }

    #[test]
    fn fields_name_the_header() {
        for propagator in [XrayPropagator::new(), XrayPropagator::lambda()] {
            assert_eq!(propagator.fields().collect::<Vec<_>>(), [XRAY_HEADER]);
        }
    }

    /// The only test that touches the environment: tests run in parallel threads.
    #[test]
    fn lambda_variant_prefers_a_valid_environment_header() {
        let env_value =
            "Root=1-6a1b2c3d-0123456789abcdef01234567;Parent=1111111111111111;Sampled=1";
        let carrier_value =
            "Root=1-6a1b2c3e-fedcba9876543210fedcba98;Parent=2222222222222222;Sampled=0";
        let env_trace = TraceId::from(0x6a1b2c3d_0123456789abcdef01234567);
        let carrier_trace = TraceId::from(0x6a1b2c3e_fedcba9876543210fedcba98);
        let incoming = carrier(carrier_value);
        let trace_of = |propagator: &XrayPropagator| {
            let cx = propagator.extract_with_context(&Context::new(), &incoming);
            cx.span().span_context().trace_id()
        };
        let previous = std::env::var_os(LAMBDA_TRACE_ENV);

        // SAFETY: no other test of this crate writes `_X_AMZN_TRACE_ID`, and the test threads
        // read the environment only through `std::env`, which serialises access with its
        // own lock; no foreign code reads the environment concurrently.
        unsafe { std::env::set_var(LAMBDA_TRACE_ENV, env_value) };
        assert_eq!(trace_of(&XrayPropagator::lambda()), env_trace, "env wins");
        assert_eq!(
            trace_of(&XrayPropagator::new()),
            carrier_trace,
            "plain ignores env"
        );
        let cx = XrayPropagator::lambda().extract_with_context(&Context::new(), &HashMap::new());
        assert_eq!(
            cx.span().span_context().trace_id(),
            env_trace,
            "env without carrier"
        );

        // SAFETY: as above.
        unsafe { std::env::set_var(LAMBDA_TRACE_ENV, "Root=1-6a1b2c3d-invalid") };
        assert_eq!(
            trace_of(&XrayPropagator::lambda()),
            carrier_trace,
            "invalid env falls back"
        );

        // SAFETY: as above.
        unsafe { std::env::remove_var(LAMBDA_TRACE_ENV) };
        assert_eq!(
            trace_of(&XrayPropagator::lambda()),
            carrier_trace,
            "no env falls back"
        );

        if let Some(previous) = previous {
            // SAFETY: as above.
            unsafe { std::env::set_var(LAMBDA_TRACE_ENV, previous) };
        }
    }

    #[test]
    fn header_getters_are_case_insensitive() {
        let map = HashMap::from([("X-Amzn-Trace-Id".to_owned(), "v".to_owned())]);
        assert_eq!(map.get_header("x-amzn-trace-id"), Some("v"), "HashMap scan");
        assert_eq!(
            map.get_header("X-Amzn-Trace-Id"),
            Some("v"),
            "HashMap exact"
        );
        assert_eq!(map.get_header("x-amzn-trace"), None, "HashMap missing");
        assert_eq!(map.header_names(), ["X-Amzn-Trace-Id"]);

        let slice: &[(&str, &str)] = &[("Host", "h"), ("X-AMZN-TRACE-ID", "v")];
        assert_eq!(slice.get_header("x-amzn-trace-id"), Some("v"), "slice");
        assert_eq!(slice.header_names(), ["Host", "X-AMZN-TRACE-ID"]);

        let owned = vec![("x-amzn-trace-id".to_owned(), "v".to_owned())];
        assert_eq!(owned.get_header("X-Amzn-Trace-Id"), Some("v"), "Vec");
        assert_eq!((&&owned).get_header("X-Amzn-Trace-Id"), Some("v"), "&&Vec");
        assert_eq!(owned.header_names(), ["x-amzn-trace-id"]);
    }

    #[test]
    fn header_extractor_feeds_any_propagator() {
        let headers = vec![("X-Amzn-Trace-Id", CANONICAL)];
        let extractor = HeaderExtractor(&headers);
        assert_eq!(Extractor::keys(&extractor), ["X-Amzn-Trace-Id"]);
        let cx = XrayPropagator::new().extract_with_context(&Context::new(), &extractor);
        assert_eq!(cx.span().span_context().span_id(), SpanId::from(PARENT));
    }

    #[cfg(feature = "http")]
    #[test]
    fn http_header_map_round_trip() {
        let mut incoming = http::HeaderMap::new();
        incoming.insert("X-Amzn-Trace-Id", http::HeaderValue::from_static(CANONICAL));
        incoming.insert(
            "x-opaque",
            http::HeaderValue::from_bytes(b"caf\xc3\xa9").expect("obs-text is a valid value"),
        );
        assert_eq!(incoming.get_header("x-amzn-trace-id"), Some(CANONICAL));
        assert_eq!(incoming.get_header("X-OPAQUE"), None, "not visible ASCII");
        assert_eq!(incoming.get_header("bad name"), None, "invalid name");
        assert_eq!(incoming.header_names(), ["x-amzn-trace-id", "x-opaque"]);

        let propagator = XrayPropagator::new();
        let cx = propagator.extract_with_context(&Context::new(), &HeaderExtractor(&incoming));
        let mut outgoing = http::HeaderMap::new();
        propagator.inject_context(&cx, &mut HeaderInjector(&mut outgoing));
        assert_eq!(outgoing.get_header(XRAY_HEADER), Some(CANONICAL));
    }

    #[cfg(feature = "http")]
    #[test]
    fn header_injector_skips_what_http_cannot_carry() {
        let mut headers = http::HeaderMap::new();
        let mut injector = HeaderInjector(&mut headers);
        injector.reserve(4);
        injector.set("bad name", "v".to_owned());
        injector.set("x-newline", "a\nb".to_owned());
        injector.set("x-accent", "café".to_owned());
        injector.set("X-Kept", "first".to_owned());
        injector.set("x-kept", "second".to_owned());
        assert_eq!(headers.len(), 1);
        assert_eq!(headers.get_header("x-kept"), Some("second"), "set replaces");
    }

    /// xorshift64: deterministic, dependency-free pseudo-random numbers.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, bound: usize) -> usize {
            usize::try_from(self.next() % bound as u64).expect("below a usize")
        }

        fn pick(&mut self, alphabet: &[char]) -> char {
            alphabet[self.below(alphabet.len())]
        }
    }

    fn check_total(input: &str) -> bool {
        let Some(parsed) = XrayHeader::parse(input) else {
            return false;
        };
        let written = parsed.to_header_value();
        assert_eq!(
            XrayHeader::parse(&written).as_ref(),
            Some(&parsed),
            "{input:?} written as {written:?}"
        );
        true
    }

    #[test]
    fn fuzz_parse_is_total_and_round_trips() {
        let alphabet: Vec<char> = "Root=1-;Parent=Sampled?abcdef0123456789 é"
            .chars()
            .collect();
        let seed: Vec<char> = format!("{CANONICAL};Lineage=a87bd80c:1|68fd508a:5")
            .chars()
            .collect();
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let mut parsed = 0;

        // Random strings, some longer than the limit.
        for _ in 0..10_000 {
            let len = rng.below(300);
            let input: String = (0..len).map(|_| rng.pick(&alphabet)).collect();
            parsed += usize::from(check_total(&input));
        }

        // Mutations of a valid header, to reach the paths behind a valid Root.
        for _ in 0..10_000 {
            let mut chars = seed.clone();
            for _ in 0..=rng.below(3) {
                let at = rng.below(chars.len() + 1);
                match rng.below(3) {
                    0 => chars.insert(at, rng.pick(&alphabet)),
                    1 if at < chars.len() => {
                        chars.remove(at);
                    }
                    _ if at < chars.len() => chars[at] = rng.pick(&alphabet),
                    _ => chars.push(rng.pick(&alphabet)),
                }
            }
            let input: String = chars.into_iter().collect();
            parsed += usize::from(check_total(&input));
        }

        assert!(
            parsed > 100,
            "mutations should keep some headers valid: {parsed}"
        );
    }
}
