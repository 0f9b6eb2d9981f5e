//! The sampling decision: which traces are recorded and exported.
//!
//! A decision is made once per trace, when its root span starts; children
//! inherit it. The span path reads the configured sampler from atomics set by
//! [`install`], so deciding takes no lock. A caller's decision carried by an
//! incoming header is followed when the sampler is parent-based, except when
//! the caller deferred it (`Sampled=?`, or no `Sampled` field). Under X-Ray's
//! sampling rules ([`SamplerKind::Xray`]) a root is decided by the first rule
//! that matches what the root is about ([`RootRequest`]). Spans made through
//! the OpenTelemetry API decide with [`XraySampler`], which applies the same
//! rules.

mod otel;
#[cfg(feature = "xray-sampler")]
pub(crate) mod rules;

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};

use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, Key, KeyValue, Value};

use crate::propagation::{IncomingXray, Sampling};
use crate::record::DecidingRule;

pub(crate) use otel::XraySampler;
#[cfg(feature = "xray-sampler")]
pub(crate) use rules::RulesCache;

/// Without X-Ray's rules there is nothing to cache.
#[cfg(not(feature = "xray-sampler"))]
#[derive(Debug, Default)]
pub(crate) struct RulesCache;

#[cfg(not(feature = "xray-sampler"))]
impl RulesCache {
    pub(crate) const fn new() -> Self {
        Self
    }
}

/// The span attribute naming the X-Ray sampling rule that sampled a trace,
/// on its root span (as the AWS Distro for OpenTelemetry records it).
pub const SAMPLING_RULE_KEY: &str = "aws.xray.sampling_rule";

/// Which spans are recorded and exported.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum SamplerKind {
    /// Every trace.
    AlwaysOn,
    /// No trace.
    AlwaysOff,
    /// A fraction (0.0 to 1.0) of traces, chosen by trace id.
    TraceIdRatio(f64),
    /// Follow the caller's decision when there is one, else sample every trace (the default).
    ParentBasedAlwaysOn,
    /// Follow the caller's decision when there is one, else sample nothing.
    ParentBasedAlwaysOff,
    /// Follow the caller's decision when there is one, else sample a fraction.
    ParentBasedTraceIdRatio(f64),
    /// Follow the caller's decision when there is one, else decide with
    /// AWS X-Ray's sampling rules: a reservoir per second and a fixed rate
    /// per rule, matched on the service, the request's host, method and
    /// path, and the root's attributes. Rules come from a local file and
    /// from X-Ray (through the X-Ray daemon or a collector's proxy); see
    /// [`XraySampling`](crate::XraySampling).
    Xray,
}

impl SamplerKind {
    /// Whether a caller's decision is followed.
    pub(crate) fn parent_based(self) -> bool {
        matches!(
            self,
            Self::ParentBasedAlwaysOn
                | Self::ParentBasedAlwaysOff
                | Self::ParentBasedTraceIdRatio(_)
                | Self::Xray
        )
    }
}

/// The root sampler, read by every new trace.
const ROOT_ALWAYS_ON: u8 = 0;
const ROOT_ALWAYS_OFF: u8 = 1;
const ROOT_RATIO: u8 = 2;
const ROOT_RULES: u8 = 3;
static ROOT_SAMPLER: AtomicU8 = AtomicU8::new(ROOT_ALWAYS_ON);
/// For [`ROOT_RATIO`]: traces whose id's low 63 bits are below this are sampled.
static RATIO_BOUND: AtomicU64 = AtomicU64::new(0);
static PARENT_BASED: AtomicBool = AtomicBool::new(true);

/// Makes `kind` the sampler of every new trace. For [`SamplerKind::Xray`],
/// the rules must be installed first ([`rules::install`]); without them
/// (the feature is off) the default rule's effect applies: roots decided
/// as by [`SamplerKind::ParentBasedAlwaysOn`].
pub(crate) fn install(kind: SamplerKind) {
    let (mode, ratio) = match kind {
        SamplerKind::AlwaysOn | SamplerKind::ParentBasedAlwaysOn => (ROOT_ALWAYS_ON, 1.0),
        SamplerKind::AlwaysOff | SamplerKind::ParentBasedAlwaysOff => (ROOT_ALWAYS_OFF, 0.0),
        SamplerKind::TraceIdRatio(r) | SamplerKind::ParentBasedTraceIdRatio(r) => (ROOT_RATIO, r),
        #[cfg(feature = "xray-sampler")]
        SamplerKind::Xray => (ROOT_RULES, 0.0),
        #[cfg(not(feature = "xray-sampler"))]
        SamplerKind::Xray => (ROOT_ALWAYS_ON, 1.0),
    };
    RATIO_BOUND.store(
        (ratio.clamp(0.0, 1.0) * (1u64 << 63) as f64) as u64,
        Ordering::Relaxed,
    );
    ROOT_SAMPLER.store(mode, Ordering::Relaxed);
    PARENT_BASED.store(kind.parent_based(), Ordering::Relaxed);
}

/// Whether callers' sampling decisions are followed.
#[inline]
pub(crate) fn parent_based() -> bool {
    PARENT_BASED.load(Ordering::Relaxed)
}

/// Whether roots are decided by sampling rules, which look at what a root
/// is about ([`RootRequest`]): callers then describe it before deciding.
#[inline]
pub(crate) fn rules_decide() -> bool {
    ROOT_SAMPLER.load(Ordering::Relaxed) == ROOT_RULES
}

/// What a new trace's root is about, as sampling rules see it. Every field
/// borrows; an empty string is "not known".
#[derive(Clone, Copy, Debug, Default)]
#[cfg_attr(not(feature = "xray-sampler"), allow(dead_code))] // read by X-Ray's rules
pub(crate) struct RootRequest<'a> {
    /// The host the request was sent to (`server.address`).
    pub host: &'a str,
    /// The HTTP method (`http.request.method`).
    pub http_method: &'a str,
    /// The request's path (`url.path`).
    pub url_path: &'a str,
    /// The root's attributes, matched by rules' `Attributes`.
    pub attributes: &'a [KeyValue],
}

impl RootRequest<'static> {
    /// Nothing known: what children and plain roots pass (a constant, so
    /// that passing it costs one address).
    pub(crate) const NONE: RootRequest<'static> = RootRequest {
        host: "",
        http_method: "",
        url_path: "",
        attributes: &[],
    };
}

impl<'a> RootRequest<'a> {
    /// A root described by its attributes alone: the HTTP fields are read
    /// from the semantic conventions' keys (and their older names) among
    /// them, as the AWS Distro for OpenTelemetry reads them.
    pub(crate) fn from_attributes(attributes: &'a [KeyValue]) -> Self {
        // One pass; a current name outranks an older one for the same field.
        let mut found = RequestFields::default();
        for (index, kv) in attributes.iter().enumerate() {
            found.note(request_key(kv.key.as_str()), index, &kv.value);
        }
        found.request(attributes)
    }
}

/// Which field of a root's request an attribute key names (see
/// [`request_key`]).
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestKey {
    /// 0: host, 1: method, 2: path; [`RequestKey::NONE`] has none.
    field: u8,
    /// A current semantic-conventions name outranks an older one.
    rank: u8,
}

impl RequestKey {
    /// A key that names no request field.
    pub const NONE: RequestKey = RequestKey { field: 3, rank: 0 };
}

/// The request field an attribute key names, as the AWS Distro for
/// OpenTelemetry reads them: `server.address` (or `http.host`,
/// `net.host.name`), `http.request.method` (or `http.method`) and `url.path`
/// (or `http.target`). The macros work it out for `attrs(...)` keys at
/// compile time.
#[doc(hidden)]
pub const fn request_key(key: &str) -> RequestKey {
    let (field, rank) = match key.as_bytes() {
        b"server.address" => (0, 3),
        b"http.host" => (0, 2),
        b"net.host.name" => (0, 1),
        b"http.request.method" => (1, 2),
        b"http.method" => (1, 1),
        b"url.path" => (2, 2),
        b"http.target" => (2, 1),
        _ => return RequestKey::NONE,
    };
    RequestKey { field, rank }
}

/// Where a root's host, method and path are among its attributes: per
/// field, the position (plus one; 0 for none) and rank of the best key
/// seen with a string value.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RequestFields {
    found: [(u16, u8); 3],
}

impl RequestFields {
    /// Notes the attribute at `index`, named by `key`, holding `value`.
    #[inline]
    pub(crate) fn note(&mut self, key: RequestKey, index: usize, value: &Value) {
        let Some(slot) = self.found.get_mut(usize::from(key.field)) else {
            return;
        };
        let Ok(position) = u16::try_from(index + 1) else {
            return;
        };
        if key.rank > slot.1 && matches!(value, Value::String(_)) {
            *slot = (position, key.rank);
        }
    }

    /// The request, with the fields read from `attributes` (those noted).
    #[inline]
    pub(crate) fn request<'a>(&self, attributes: &'a [KeyValue]) -> RootRequest<'a> {
        let text = |field: usize| {
            let position = usize::from(self.found[field].0);
            match position.checked_sub(1).and_then(|i| attributes.get(i)) {
                Some(KeyValue {
                    value: Value::String(value),
                    ..
                }) => value.as_str(),
                _ => "",
            }
        };
        RootRequest {
            host: text(0),
            http_method: text(1),
            url_path: text(2),
            attributes,
        }
    }
}

/// A root's sampling decision, and the rule that made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RootDecision {
    pub sampled: bool,
    /// Not sampled, but recorded and held until the root ends, when
    /// adaptive sampling may still capture the trace (or must hear how it
    /// ended).
    pub held: bool,
    /// The X-Ray sampling rule that decided, when rules decide and it has a
    /// kept name (see `xray_sampling::Decision::rule_name`).
    pub rule: Option<&'static str>,
    /// The rule, when the export thread must report how the trace ended.
    pub deciding: Option<DecidingRule>,
}

impl RootDecision {
    #[inline]
    pub(crate) fn plain(sampled: bool) -> Self {
        Self {
            sampled,
            held: false,
            rule: None,
            deciding: None,
        }
    }

    /// Whether the root's spans are recorded: sampled, or held.
    #[inline]
    pub(crate) fn records(self) -> bool {
        self.sampled || self.held
    }

    /// The attribute naming the rule, for a recorded root that has one.
    pub(crate) fn rule_attribute(self) -> Option<KeyValue> {
        self.rule.filter(|_| self.records()).map(rule_attribute)
    }
}

/// The attribute naming the X-Ray sampling rule that decided a root.
pub(crate) fn rule_attribute(rule: &'static str) -> KeyValue {
    KeyValue::new(Key::from_static_str(SAMPLING_RULE_KEY), rule)
}

/// The root sampler's decision for a new trace when no rules decide it
/// (`None`: they do, see [`sample_root`]). A ratio compares the low 63 bits
/// of the (random part of the) trace id, as OpenTelemetry's
/// `TraceIdRatioBased` does, so both span paths agree.
#[inline]
pub(crate) fn plain_root(trace_id: u128) -> Option<bool> {
    match ROOT_SAMPLER.load(Ordering::Relaxed) {
        ROOT_ALWAYS_ON => Some(true),
        ROOT_ALWAYS_OFF => Some(false),
        ROOT_RATIO => Some(((trace_id as u64) >> 1) < RATIO_BOUND.load(Ordering::Relaxed)),
        _ => None,
    }
}

/// The root sampler's decision for a new trace. A ratio compares the low 63
/// bits of the (random part of the) trace id, as OpenTelemetry's
/// `TraceIdRatioBased` does, so both span paths agree.
#[inline]
pub(crate) fn sample_root(
    trace_id: u128,
    request: &RootRequest<'_>,
    cache: &mut RulesCache,
) -> RootDecision {
    match ROOT_SAMPLER.load(Ordering::Relaxed) {
        ROOT_ALWAYS_ON => RootDecision::plain(true),
        ROOT_ALWAYS_OFF => RootDecision::plain(false),
        ROOT_RATIO => {
            RootDecision::plain(((trace_id as u64) >> 1) < RATIO_BOUND.load(Ordering::Relaxed))
        }
        _ => by_rules(trace_id, request, cache),
    }
}

#[cfg(feature = "xray-sampler")]
#[inline(never)]
fn by_rules(trace_id: u128, request: &RootRequest<'_>, cache: &mut RulesCache) -> RootDecision {
    rules::decide(trace_id, request, cache)
}

#[cfg(not(feature = "xray-sampler"))]
fn by_rules(_trace_id: u128, _request: &RootRequest<'_>, _cache: &mut RulesCache) -> RootDecision {
    RootDecision::plain(true)
}

/// The caller's decision in `parent` (an extracted remote context or a
/// local parent), when there is one to follow: both span paths (ours and
/// the SDK's) decide with this. `None` when the caller deferred the
/// decision (`Sampled=?` or no `Sampled`) or named no decision at all.
pub(crate) fn inherited(parent: &Context) -> Option<bool> {
    let span_context = parent.span().span_context().clone();
    let incoming = parent.get::<IncomingXray>();
    if span_context.is_valid() {
        let deferred =
            span_context.is_remote() && incoming.is_some_and(|i| i.header.sampling.is_deferred());
        return (!deferred).then(|| span_context.is_sampled());
    }
    match incoming?.header.sampling {
        Sampling::Sampled => Some(true),
        Sampling::NotSampled => Some(false),
        Sampling::Requested | Sampling::Deferred => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_root_is_described_by_its_attributes() {
        let attributes = [
            KeyValue::new("http.method", "GET"),
            KeyValue::new("url.path", "/api/orders"),
            KeyValue::new("server.address", "shop.example"),
            KeyValue::new("http.request.method", "POST"),
            KeyValue::new("tenant", 7),
        ];
        let request = RootRequest::from_attributes(&attributes);
        // The current name wins over the older one.
        assert_eq!(request.http_method, "POST");
        assert_eq!(request.url_path, "/api/orders");
        assert_eq!(request.host, "shop.example");
        let request = RootRequest::from_attributes(&attributes[4..]);
        assert_eq!(
            (request.host, request.http_method, request.url_path),
            ("", "", "")
        );
    }
}
