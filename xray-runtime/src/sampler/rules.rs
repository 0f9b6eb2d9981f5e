//! X-Ray's sampling rules as the span path reads them: the installation's
//! rule engine, replaced without locks when the provider is installed again.
//! The engine's rules and quotas are themselves replaced, without locks, by
//! the thread that polls X-Ray (`remote_sampling`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use opentelemetry::Value;
use xray_sampling::{
    AdaptiveSamplingConfig, AnomalyCaptureLimiter, Decision, RootOutcome, RuleRef,
    Sampler as Engine, SamplingRequest, Snapshot,
};

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
    /// Adaptive sampling's anomaly conditions (X-Ray's default without).
    adaptive: Option<AdaptiveSamplingConfig>,
    /// Whether sampled-out traces are held for anomaly capture.
    captures: bool,
    limiter: AnomalyCaptureLimiter,
}

impl XrayRules {
    pub(crate) fn new(
        engine: Engine,
        service_name: String,
        adaptive: Option<AdaptiveSamplingConfig>,
    ) -> Self {
        let captures = adaptive
            .as_ref()
            .is_some_and(AdaptiveSamplingConfig::captures);
        let limiter = adaptive.as_ref().map_or_else(
            || AnomalyCaptureLimiter::new(0),
            AnomalyCaptureLimiter::for_config,
        );
        Self {
            engine,
            service_name,
            adaptive,
            captures,
            limiter,
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
/// Moves on after each [`install`]: threads' caches are then stale.
static GENERATION: AtomicU64 = AtomicU64::new(1);

/// Makes `rules` decide new roots (from the next decision on); `None` removes them.
pub(crate) fn install(rules: Option<Arc<XrayRules>>) {
    INSTALLED.store(rules);
    GENERATION.fetch_add(1, Ordering::Release);
}

/// A thread's copy of the installed rules and of their engine's rule sets:
/// a decision then reads two counters instead of three shared pointers.
#[derive(Debug, Default)]
pub(crate) struct RulesCache {
    generation: u64,
    rules: Option<Arc<XrayRules>>,
    snapshot: Option<Snapshot>,
}

impl RulesCache {
    pub(crate) const fn new() -> Self {
        Self {
            generation: 0,
            rules: None,
            snapshot: None,
        }
    }

    /// The installed rules and a current snapshot of their sets.
    #[inline]
    fn current(&mut self) -> Option<(&XrayRules, &Snapshot)> {
        let generation = GENERATION.load(Ordering::Acquire);
        if self.generation != generation {
            self.generation = generation;
            self.rules = INSTALLED.load_full();
            self.snapshot = None;
        }
        let rules = self.rules.as_deref()?;
        let version = rules.engine.version();
        if self
            .snapshot
            .as_ref()
            .is_none_or(|s| s.version() != version)
        {
            self.snapshot = Some(rules.engine.snapshot());
        }
        Some((rules, self.snapshot.as_ref()?))
    }
}

/// Decides a new root with the installed rules. The random part of the
/// trace id (its low 64 bits) is the fixed rate's draw; the second is the
/// coarse clock's. Without rules (a moment between installations), the
/// root is sampled, as the default rule's reservoir would.
#[inline]
pub(crate) fn decide(
    trace_id: u128,
    request: &RootRequest<'_>,
    cache: &mut RulesCache,
) -> RootDecision {
    let Some((rules, snapshot)) = cache.current() else {
        return RootDecision::plain(true);
    };
    let sampling_request = SamplingRequest {
        service_name: &rules.service_name,
        service_type: origin::get().unwrap_or(""),
        host: request.host,
        http_method: request.http_method,
        url_path: request.url_path,
        resource_arn: "",
        attributes: &[],
        // A root with none of a request's host, method or path is other
        // work (a job, a message): rules about requests do not take it.
        http_request: !(request.host.is_empty()
            && request.http_method.is_empty()
            && request.url_path.is_empty()),
    };
    let now = u64::from(clock::epoch_seconds());
    let decision = if snapshot.uses_attributes() {
        decide_with_attributes(snapshot, sampling_request, request, now, trace_id as u64)
    } else {
        snapshot.decide(&sampling_request, now, trace_id as u64)
    };
    // Adaptive sampling hears how the traces of boosted rules end, and may
    // still capture a sampled-out trace that ends in an anomaly: those are
    // recorded and held until their root ends.
    let held = !decision.sampled && decision.rule.is_some() && (rules.captures || decision.boosted);
    let deciding = if held || decision.boosted {
        decision.rule
    } else {
        None
    };
    RootDecision {
        sampled: decision.sampled,
        held,
        rule: decision.rule_name,
        deciding,
    }
}

/// [`Snapshot::decide`] for rules that match attributes: the root's string
/// attributes (the first [`MAX_MATCHED_ATTRIBUTES`]) are handed to them.
/// Apart, so that roots under rules without attributes do not set up the
/// list.
#[inline(never)]
fn decide_with_attributes(
    snapshot: &Snapshot,
    sampling_request: SamplingRequest<'_>,
    request: &RootRequest<'_>,
    now: u64,
    random: u64,
) -> Decision {
    let mut matched: [(&str, &str); MAX_MATCHED_ATTRIBUTES] = [("", ""); MAX_MATCHED_ATTRIBUTES];
    let mut count = 0;
    for kv in request.attributes.iter().take(MAX_MATCHED_ATTRIBUTES) {
        if let Value::String(value) = &kv.value {
            matched[count] = (kv.key.as_str(), value.as_str());
            count += 1;
        }
    }
    let with_attributes = SamplingRequest {
        attributes: &matched[..count],
        ..sampling_request
    };
    snapshot.decide(&with_attributes, now, random)
}

/// How a root decided by `rule` ended, as adaptive sampling sees it.
#[derive(Debug)]
pub(crate) struct RootEnd<'a> {
    pub sampled: bool,
    pub status_code: Option<u16>,
    pub is_error: bool,
    pub latency: Duration,
    /// `aws.local.operation`, else derived from the request's method and path.
    pub operation: &'a str,
    /// The epoch second it ended.
    pub at: u64,
}

/// Records how a trace decided by `rule` ended (for X-Ray's sampling boost)
/// and tells whether a held trace is captured: it ended in an anomaly and
/// this second's capture limit has room.
pub(crate) fn root_ended(rule: RuleRef, end: &RootEnd<'_>) -> bool {
    let installed = INSTALLED.load();
    let Some(rules) = installed.as_deref() else {
        return false;
    };
    let outcome = RootOutcome {
        status_code: end.status_code,
        is_error: end.is_error,
        latency: end.latency,
        operation: end.operation,
    };
    let anomaly = rules
        .engine
        .finish_root(rule, end.sampled, &outcome, rules.adaptive.as_ref());
    !end.sampled && rules.captures && anomaly.capture && rules.limiter.try_acquire(end.at)
}
