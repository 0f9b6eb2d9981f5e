//! The sampler a tracer holds: centralized rules that a poller replaces at
//! run time, with local rules as the fallback.

use crate::adaptive::{self, AdaptiveSamplingConfig, Anomaly, RootOutcome};
use crate::api::{
    GetSamplingTargetsRequest, GetSamplingTargetsResponse, SamplingBoostStatisticsDocument,
    SamplingStatisticsDocument,
};
use crate::local::LocalRules;
use crate::request::SamplingRequest;
use crate::rule::{SamplingRule, SkippedRule};
use crate::ruleset::{Decision, RuleRef, RuleSet, TargetsApplied};
use arc_swap::{ArcSwap, ArcSwapOption};
use std::sync::{Arc, Mutex};

/// Decides with the centralized rules while they are fresh and one of them
/// matches, and with the local rules otherwise, as the Python SDK's
/// `DefaultSampler` does.
///
/// Decisions read the current rule sets through `arc-swap` (a few atomic
/// operations, no lock, no allocation); the poller swaps in new sets. The
/// poller-side methods serialise among themselves with a mutex that
/// decisions never touch.
pub struct Sampler {
    centralized: ArcSwapOption<RuleSet>,
    local: ArcSwap<RuleSet>,
    client_id: String,
    writer: Mutex<()>,
}

impl std::fmt::Debug for Sampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sampler")
            .field("centralized", &self.centralized.load())
            .field("local", &self.local.load())
            .field("client_id", &self.client_id)
            .finish()
    }
}

/// A `ClientID` for statistics documents: 24 hexadecimal digits from the low
/// 96 bits of `random` (the caller supplies the randomness).
pub fn client_id_from_random(random: u128) -> String {
    format!("{:024x}", random & ((1u128 << 96) - 1))
}

impl Sampler {
    /// A sampler with `local` rules as the fallback and no centralized rules
    /// yet. `client_id` identifies this client in statistics (see
    /// [`client_id_from_random`]).
    pub fn new(local: RuleSet, client_id: impl Into<String>) -> Self {
        Sampler {
            centralized: ArcSwapOption::empty(),
            local: ArcSwap::from_pointee(local),
            client_id: client_id.into(),
            writer: Mutex::new(()),
        }
    }

    /// A sampler whose fallback is the SDKs' built-in local rule (one
    /// request per second, 5% of the rest).
    pub fn with_default_local_rules(client_id: impl Into<String>) -> Self {
        Self::new(RuleSet::from_local(&LocalRules::sdk_default()), client_id)
    }

    /// The `ClientID` of this sampler.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Decides for a new trace (see [`RuleSet::decide`]).
    #[inline]
    pub fn decide(&self, req: &SamplingRequest<'_>, now: u64, random: u64) -> Decision {
        {
            let centralized = self.centralized.load();
            if let Some(set) = centralized.as_deref()
                && !set.is_expired(now)
            {
                let decision = set.decide(req, now, random);
                if decision.rule.is_some() {
                    return decision;
                }
            }
        }
        self.local.load().decide(req, now, random)
    }

    /// Installs rules from GetSamplingRules fetched at `fetched_at`, keeping
    /// the state of rules that keep their name. Returns the rules left out.
    /// As in the Python SDK, a fetch that leaves no usable rule changes
    /// nothing (the previous rules stay, and so does their fetch time).
    pub fn update_rules(&self, rules: Vec<SamplingRule>, fetched_at: u64) -> Vec<SkippedRule> {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.centralized.load_full();
        let set = match &current {
            Some(current) => current.replace(rules, fetched_at),
            None => RuleSet::new(rules, fetched_at),
        };
        let skipped = set.skipped().to_vec();
        if set.rules().len() > 0 {
            self.centralized.store(Some(Arc::new(set)));
        }
        skipped
    }

    /// Replaces the local fallback rules.
    pub fn set_local_rules(&self, local: RuleSet) {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        self.local.store(Arc::new(local));
    }

    /// The current centralized rules, if any were installed.
    pub fn centralized_rules(&self) -> Option<Arc<RuleSet>> {
        self.centralized.load_full()
    }

    /// The current local rules.
    pub fn local_rules(&self) -> Arc<RuleSet> {
        self.local.load_full()
    }

    /// Applies a GetSamplingTargets response to the centralized rules (see
    /// [`RuleSet::apply_targets`]); `None` if there are none yet.
    pub fn apply_targets(
        &self,
        response: &GetSamplingTargetsResponse,
        now: u64,
    ) -> Option<TargetsApplied> {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        self.centralized
            .load()
            .as_deref()
            .map(|set| set.apply_targets(response, now))
    }

    /// Reads and resets the due statistics of the centralized rules (see
    /// [`RuleSet::take_statistics`]).
    pub fn take_statistics(&self, now: u64) -> Vec<SamplingStatisticsDocument> {
        self.centralized
            .load()
            .as_deref()
            .map_or_else(Vec::new, |set| set.take_statistics(now, &self.client_id))
    }

    /// Reads and resets the boost statistics of the centralized rules (see
    /// [`RuleSet::take_boost_statistics`]).
    pub fn take_boost_statistics(
        &self,
        now: u64,
        service_name: &str,
    ) -> Vec<SamplingBoostStatisticsDocument> {
        self.centralized
            .load()
            .as_deref()
            .map_or_else(Vec::new, |set| set.take_boost_statistics(now, service_name))
    }

    /// The GetSamplingTargets requests to send at `now`: due statistics and
    /// boost statistics, split in batches of 25. Empty when nothing is due.
    pub fn targets_requests(&self, now: u64, service_name: &str) -> Vec<GetSamplingTargetsRequest> {
        let statistics = self.take_statistics(now);
        let boost = self.take_boost_statistics(now, service_name);
        GetSamplingTargetsRequest::batches(statistics, boost)
    }

    /// Records a finished local root (see [`RuleSet::record_root`]). A
    /// decision made by rules that have since been replaced is not recorded.
    pub fn record_root(&self, rule: RuleRef, anomaly_for_boost: bool, sampled: bool) -> bool {
        self.centralized
            .load()
            .as_deref()
            .is_some_and(|set| set.record_root(rule, anomaly_for_boost, sampled))
    }

    /// Classifies a finished local root with `config` (X-Ray's default
    /// without one), records it against the rule that decided its trace, and
    /// returns the classification (its `capture` says whether to capture the
    /// trace if it was not sampled, subject to an
    /// [`adaptive::AnomalyCaptureLimiter`]).
    pub fn finish_root(
        &self,
        rule: RuleRef,
        sampled: bool,
        root: &RootOutcome<'_>,
        config: Option<&AdaptiveSamplingConfig>,
    ) -> Anomaly {
        let anomaly = adaptive::classify(config, root);
        self.record_root(rule, anomaly.boost, sampled);
        anomaly
    }

    /// The name of the rule a decision refers to, if its rule set is still
    /// installed.
    pub fn rule_name(&self, rule: RuleRef) -> Option<String> {
        if let Some(set) = self.centralized.load().as_deref()
            && let Some(name) = set.rule_name(rule)
        {
            return Some(name.to_owned());
        }
        self.local.load().rule_name(rule).map(str::to_owned)
    }
}
