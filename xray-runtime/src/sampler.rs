//! The sampling decision: which traces are recorded and exported.
//!
//! A decision is made once per trace, when its root span starts; children
//! inherit it. The span path reads the configured sampler from atomics set by
//! [`install`], so deciding takes no lock. A caller's decision carried by an
//! incoming header is followed when the sampler is parent-based, except when
//! the caller deferred it (`Sampled=?`, or no `Sampled` field). Spans made
//! through the OpenTelemetry API decide with [`XraySampler`], which applies
//! the same rules.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};

use opentelemetry::trace::{Link, SpanKind, TraceContextExt, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{Sampler, SamplingDecision, SamplingResult, ShouldSample};

use crate::propagation::{IncomingXray, Sampling};

/// Which spans are recorded and exported.
#[derive(Clone, Copy, Debug, PartialEq)]
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
}

impl SamplerKind {
    /// Whether a caller's decision is followed.
    pub(crate) fn parent_based(self) -> bool {
        matches!(
            self,
            Self::ParentBasedAlwaysOn
                | Self::ParentBasedAlwaysOff
                | Self::ParentBasedTraceIdRatio(_)
        )
    }
}

/// The root sampler, read by every new trace.
const ROOT_ALWAYS_ON: u8 = 0;
const ROOT_ALWAYS_OFF: u8 = 1;
const ROOT_RATIO: u8 = 2;
static ROOT_SAMPLER: AtomicU8 = AtomicU8::new(ROOT_ALWAYS_ON);
/// For [`ROOT_RATIO`]: traces whose id's low 63 bits are below this are sampled.
static RATIO_BOUND: AtomicU64 = AtomicU64::new(0);
static PARENT_BASED: AtomicBool = AtomicBool::new(true);

/// Makes `kind` the sampler of every new trace.
pub(crate) fn install(kind: SamplerKind) {
    let (mode, ratio) = match kind {
        SamplerKind::AlwaysOn | SamplerKind::ParentBasedAlwaysOn => (ROOT_ALWAYS_ON, 1.0),
        SamplerKind::AlwaysOff | SamplerKind::ParentBasedAlwaysOff => (ROOT_ALWAYS_OFF, 0.0),
        SamplerKind::TraceIdRatio(r) | SamplerKind::ParentBasedTraceIdRatio(r) => (ROOT_RATIO, r),
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

/// The root sampler's decision for a new trace. A ratio compares the low 63
/// bits of the (random part of the) trace id, as OpenTelemetry's
/// `TraceIdRatioBased` does, so both span paths agree.
#[inline]
pub(crate) fn sample_root(trace_id: u128) -> bool {
    match ROOT_SAMPLER.load(Ordering::Relaxed) {
        ROOT_ALWAYS_ON => true,
        ROOT_ALWAYS_OFF => false,
        _ => ((trace_id as u64) >> 1) < RATIO_BOUND.load(Ordering::Relaxed),
    }
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

/// The sampler of spans made through the OpenTelemetry API: the configured
/// one, made aware of X-Ray headers as [`inherited`] describes. A Root-only
/// header (no `Parent`) with an explicit decision is followed too.
#[derive(Clone, Debug)]
pub(crate) struct XraySampler {
    root: Sampler,
    parent_based: bool,
}

impl XraySampler {
    pub(crate) fn new(kind: SamplerKind) -> Self {
        let root = match kind {
            SamplerKind::AlwaysOn | SamplerKind::ParentBasedAlwaysOn => Sampler::AlwaysOn,
            SamplerKind::AlwaysOff | SamplerKind::ParentBasedAlwaysOff => Sampler::AlwaysOff,
            SamplerKind::TraceIdRatio(r) | SamplerKind::ParentBasedTraceIdRatio(r) => {
                Sampler::TraceIdRatioBased(r)
            }
        };
        Self {
            root,
            parent_based: kind.parent_based(),
        }
    }
}

impl ShouldSample for XraySampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        if self.parent_based
            && let Some(sampled) = parent_context.and_then(inherited)
        {
            return SamplingResult {
                decision: if sampled {
                    SamplingDecision::RecordAndSample
                } else {
                    SamplingDecision::Drop
                },
                attributes: Vec::new(),
                trace_state: parent_context
                    .map(|cx| cx.span().span_context().trace_state().clone())
                    .unwrap_or_default(),
            };
        }
        self.root
            .should_sample(parent_context, trace_id, name, span_kind, attributes, links)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceState};

    use crate::propagation::XrayHeader;

    fn decide(sampler: &XraySampler, parent: &Context) -> SamplingDecision {
        sampler
            .should_sample(
                Some(parent),
                TraceId::from(1u128),
                "s",
                &SpanKind::Internal,
                &[],
                &[],
            )
            .decision
    }

    fn remote(sampled: bool) -> Context {
        let flags = if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(7u128),
            SpanId::from(9u64),
            flags,
            true,
            TraceState::default(),
        ))
    }

    #[test]
    fn follows_the_callers_decision() {
        let sampler = XraySampler::new(SamplerKind::ParentBasedAlwaysOff);
        assert_eq!(
            decide(&sampler, &remote(true)),
            SamplingDecision::RecordAndSample
        );
        let sampler = XraySampler::new(SamplerKind::ParentBasedAlwaysOn);
        assert_eq!(decide(&sampler, &remote(false)), SamplingDecision::Drop);
        assert_eq!(
            decide(&sampler, &Context::new()),
            SamplingDecision::RecordAndSample
        );
    }

    #[test]
    fn a_deferred_decision_is_ours_to_make() {
        let header = XrayHeader::parse(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?",
        )
        .expect("valid header");
        let parent = remote(false).with_value(IncomingXray { header });
        let on = XraySampler::new(SamplerKind::ParentBasedAlwaysOn);
        assert_eq!(decide(&on, &parent), SamplingDecision::RecordAndSample);
        let off = XraySampler::new(SamplerKind::ParentBasedAlwaysOff);
        assert_eq!(decide(&off, &parent), SamplingDecision::Drop);
    }

    #[test]
    fn root_only_header_decision_is_followed() {
        let header = XrayHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0")
            .expect("valid header");
        let parent = Context::new().with_value(IncomingXray { header });
        let sampler = XraySampler::new(SamplerKind::ParentBasedAlwaysOn);
        assert_eq!(decide(&sampler, &parent), SamplingDecision::Drop);
        let not_parent_based = XraySampler::new(SamplerKind::AlwaysOn);
        assert_eq!(
            decide(&not_parent_based, &parent),
            SamplingDecision::RecordAndSample
        );
    }
}
