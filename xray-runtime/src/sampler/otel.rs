//! The sampler of spans made through the OpenTelemetry API.

use opentelemetry::trace::{Link, SpanKind, TraceContextExt, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{Sampler, SamplingDecision, SamplingResult, ShouldSample};

use crate::sampler::{RootRequest, RulesCache, SamplerKind, inherited, sample_root};

/// The sampler of spans made through the OpenTelemetry API: the configured
/// one, made aware of X-Ray headers as [`inherited`](crate::sampler::inherited) describes. A Root-only
/// header (no `Parent`) with an explicit decision is followed too.
#[derive(Clone, Debug)]
pub(crate) struct XraySampler {
    /// `None`: X-Ray's sampling rules decide, as for our own roots.
    root: Option<Sampler>,
    parent_based: bool,
}

impl XraySampler {
    pub(crate) fn new(kind: SamplerKind) -> Self {
        let root = match kind {
            SamplerKind::AlwaysOn | SamplerKind::ParentBasedAlwaysOn => Some(Sampler::AlwaysOn),
            SamplerKind::AlwaysOff | SamplerKind::ParentBasedAlwaysOff => Some(Sampler::AlwaysOff),
            SamplerKind::TraceIdRatio(r) | SamplerKind::ParentBasedTraceIdRatio(r) => {
                Some(Sampler::TraceIdRatioBased(r))
            }
            SamplerKind::Xray => None,
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
        match &self.root {
            Some(root) => {
                root.should_sample(parent_context, trace_id, name, span_kind, attributes, links)
            }
            None => {
                let request = RootRequest::from_attributes(attributes);
                let decision = sample_root(
                    u128::from_be_bytes(trace_id.to_bytes()),
                    &request,
                    &mut RulesCache::new(),
                );
                SamplingResult {
                    decision: if decision.sampled {
                        SamplingDecision::RecordAndSample
                    } else {
                        SamplingDecision::Drop
                    },
                    attributes: decision.rule_attribute().into_iter().collect(),
                    trace_state: parent_context
                        .map(|cx| cx.span().span_context().trace_state().clone())
                        .unwrap_or_default(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceState};

    use crate::propagation::{IncomingXray, XrayHeader};

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
