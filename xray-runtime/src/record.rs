//! What a span is: its description fixed at compile time, what it records
//! while it runs, and the record of a finished span that the span path hands
//! to the export thread. The attribute keys the toolkit writes are defined
//! here, once.

use std::borrow::Cow;

use opentelemetry::trace::{Link, SpanKind, Status, TraceState};
use opentelemetry::{Context, KeyValue, StringValue};

/// The attribute that lists which attributes are X-Ray annotations (indexed
/// and searchable); collectors' X-Ray exporters read it.
pub const ANNOTATIONS_KEY: &str = "aws.xray.annotations";
/// Set to `true` on the span of an async function dropped before it finished.
pub const CANCELLED_KEY: &str = "xray.cancelled";
/// On a span whose error was recorded (with its `exception` event) by a
/// descendant: the id of the span that holds the event, as X-Ray's cause id.
pub const EXCEPTION_ORIGIN_KEY: &str = "xray.exception.span_id";
/// The function's return value, recorded with `ret`.
pub const RETURN_KEY: &str = "xray.return";

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
#[derive(Clone, Debug, Default)]
pub(crate) struct Extra {
    pub attributes: Vec<KeyValue>,
    pub annotations: Vec<StringValue>,
    pub events: Vec<RawEvent>,
    /// Spans this one is linked to (the messages of a batch it handles).
    pub links: Vec<Link>,
    pub status: Status,
    /// The caller's context for a root continuing a remote trace (lineage,
    /// baggage, W3C trace state).
    pub remote: Option<Context>,
    /// A name and kind decided at run time (`Span`), instead of the spec's.
    pub name: Option<Cow<'static, str>>,
    pub kind: Option<SpanKind>,
    /// On a root decided by an X-Ray sampling rule that wants to know how
    /// its traces end (adaptive sampling): the rule.
    pub deciding_rule: Option<DecidingRule>,
    /// On a root an X-Ray sampling rule sampled (or held): the rule's name,
    /// an attribute once the span ends (kept apart until then, so that
    /// deciding allocates nothing more).
    pub sampling_rule: Option<&'static str>,
}

/// The X-Ray sampling rule that decided a root.
#[cfg(feature = "xray-sampler")]
pub(crate) type DecidingRule = xray_sampling::RuleRef;
/// Never made without X-Ray sampling.
#[cfg(not(feature = "xray-sampler"))]
pub(crate) type DecidingRule = std::convert::Infallible;

/// An event, timestamped in clock ticks.
#[derive(Clone, Debug)]
pub(crate) struct RawEvent {
    pub name: Cow<'static, str>,
    pub at: u64,
    pub attributes: Vec<KeyValue>,
}

/// A finished, sampled (or held) span on its way to the export thread. Times are
/// clock ticks, converted to wall-clock time at export.
#[derive(Clone, Debug)]
pub(crate) struct Finished {
    pub trace_id: u128,
    pub span_id: u64,
    pub parent_id: u64,
    pub parent_remote: bool,
    /// The installation (`init`) the span was started under.
    pub generation: u32,
    pub spec: &'static SpanSpec,
    pub start: u64,
    pub end: u64,
    pub extra: Option<Box<Extra>>,
    pub trace_state: Option<TraceState>,
    /// Recorded but not sampled: exported only if adaptive sampling
    /// captures its trace when the trace's root ends.
    #[cfg_attr(not(feature = "xray-sampler"), allow(dead_code))]
    pub held: bool,
}
