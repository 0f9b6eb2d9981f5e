//! X-Ray's sampling rules as the span path reads them: the installation's
//! rule engine, replaced without locks when the provider is installed again.
//! The engine's rules and quotas are themselves replaced, without locks, by
//! the thread that polls X-Ray (`remote_sampling`).

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use opentelemetry::Value;
use xray_sampling::{Sampler as Engine, SamplingRequest};

use crate::clock;
use crate::origin;
use crate::sampler::{RootDecision, RootRequest};

/// Attributes of a root that rules' `Attributes` can see, at most.
const MAX_MATCHED_ATTRIBUTES: usize = 16;

/// The sampling rules of one installation.
#[derive(Debug)]
pub(crate) struct XrayRules {
    engine: Engine,
    service_name: String,
}

impl XrayRules {
    pub(crate) fn new(engine: Engine, service_name: String) -> Self {
        Self {
            engine,
            service_name,
        }
    }

    /// The rule engine (for the poller: rules, targets, statistics).
    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    /// `service.name`, which rules' `ServiceName` matches.
    pub(crate) fn service_name(&self) -> &str {
        &self.service_name
    }
}

static INSTALLED: ArcSwapOption<XrayRules> = ArcSwapOption::const_empty();

/// Makes `rules` decide new roots (from the next decision on); `None` removes them.
pub(crate) fn install(rules: Option<Arc<XrayRules>>) {
    INSTALLED.store(rules);
}

/// Decides a new root with the installed rules. The random part of the
/// trace id (its low 64 bits) is the fixed rate's draw; the second is the
/// coarse clock's. Without rules (a moment between installations), the
/// root is sampled, as the default rule's reservoir would.
#[inline]
pub(crate) fn decide(trace_id: u128, request: &RootRequest<'_>) -> RootDecision {
    let installed = INSTALLED.load();
    let Some(rules) = installed.as_deref() else {
        return RootDecision {
            sampled: true,
            rule: None,
        };
    };
    let mut matched: [(&str, &str); MAX_MATCHED_ATTRIBUTES] = [("", ""); MAX_MATCHED_ATTRIBUTES];
    let mut count = 0;
    for kv in request.attributes {
        if count == MAX_MATCHED_ATTRIBUTES {
            break;
        }
        if let Value::String(value) = &kv.value {
            matched[count] = (kv.key.as_str(), value.as_str());
            count += 1;
        }
    }
    let sampling_request = SamplingRequest {
        service_name: &rules.service_name,
        service_type: origin::get().unwrap_or(""),
        host: request.host,
        http_method: request.http_method,
        url_path: request.url_path,
        resource_arn: "",
        attributes: &matched[..count],
        // A root with none of a request's host, method or path is other
        // work (a job, a message): rules about requests do not take it.
        http_request: !(request.host.is_empty()
            && request.http_method.is_empty()
            && request.url_path.is_empty()),
    };
    let decision = rules.engine.decide(
        &sampling_request,
        u64::from(clock::epoch_seconds()),
        trace_id as u64,
    );
    RootDecision {
        sampled: decision.sampled,
        rule: decision.rule_name,
    }
}
