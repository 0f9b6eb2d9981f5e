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
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// Changes after either rule set is replaced (see [`Snapshot`]).
    version: AtomicU64,
    client_id: String,
    writer: Mutex<()>,
}

/// The rule sets of a [`Sampler`] at one moment, to decide with without
/// touching the sampler's shared pointers: a thread keeps one and takes a
/// new one when [`Sampler::version`] moves on. Quotas, targets and
/// statistics stay shared (they live in the rules' state).
#[derive(Clone, Debug)]
pub struct Snapshot {
    centralized: Option<Arc<RuleSet>>,
    local: Arc<RuleSet>,
    version: u64,
}

impl Snapshot {
    /// The [`Sampler::version`] this snapshot was taken at.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Whether some rule of these sets matches a request's attributes
    /// (see [`RuleSet::uses_attributes`]).
    #[inline]
    pub fn uses_attributes(&self) -> bool {
        self.local.uses_attributes()
            || self
                .centralized
                .as_deref()
                .is_some_and(RuleSet::uses_attributes)
    }

    /// Decides as [`Sampler::decide`] does, with these rule sets.
    #[inline]
    pub fn decide(&self, req: &SamplingRequest<'_>, now: u64, random: u64) -> Decision {
        decide_with(self.centralized.as_deref(), &self.local, req, now, random)
    }
}

/// The centralized rules while they are fresh and one of them matches, else
/// the local rules.
#[inline]
fn decide_with(
    centralized: Option<&RuleSet>,
    local: &RuleSet,
    req: &SamplingRequest<'_>,
    now: u64,
    random: u64,
) -> Decision {
    if let Some(set) = centralized
        && !set.is_expired(now)
    {
        let decision = set.decide(req, now, random);
        if decision.rule.is_some() {
            return decision;
        }
    }
    local.decide(req, now, random)
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
            version: AtomicU64::new(0),
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
        let centralized = self.centralized.load();
        decide_with(centralized.as_deref(), &self.local.load(), req, now, random)
    }

    /// Changes after either rule set is replaced: a [`Snapshot`] taken at
    /// an older version may decide with rules that are gone.
    #[inline]
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// The rule sets now, to decide with many times (see [`Snapshot`]).
    pub fn snapshot(&self) -> Snapshot {
        // The version first: a snapshot may then be newer than its version
        // says (and is taken again), never older.
        let version = self.version();
        Snapshot {
            centralized: self.centralized.load_full(),
            local: self.local.load_full(),
            version,
        }
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
            self.version.fetch_add(1, Ordering::Release);
        }
        skipped
    }

    /// Replaces the local fallback rules.
    pub fn set_local_rules(&self, local: RuleSet) {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        self.local.store(Arc::new(local));
        self.version.fetch_add(1, Ordering::Release);
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
