//! A compiled, immutable set of rules with shared mutable state per rule.

use crate::api::parse_sampling_rules;
use crate::api::{
    GetSamplingTargetsResponse, SamplingBoostStatisticsDocument, SamplingStatisticsDocument,
};
use crate::error::ParseError;
use crate::fields::{Field, Texts};
use crate::label;
use crate::local::{LocalRules, is_sdk_rules_file};
use crate::precheck::{Prechecks, Quick};
use crate::request::SamplingRequest;
use crate::rule::{SamplingRule, SkippedRule};
use crate::state::{DEFAULT_INTERVAL, MAX_PER_SECOND, NO_QUOTA, RuleState, rate_threshold};
use crate::timestamp::{ceil_secs, floor_secs};
use crate::wildcard::Pattern;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

/// Seconds after the last successful GetSamplingRules after which centralized
/// rules are no longer trusted and the local rules decide, as the Python
/// SDK's rule cache does (one hour).
pub const RULES_TTL: u64 = 60 * 60;

/// What a sampling decision decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Whether the trace is sampled.
    pub sampled: bool,
    /// Whether it was sampled by borrowing from the reservoir (before a quota
    /// arrived, or after it expired).
    pub borrowed: bool,
    /// The rule that decided; `None` if no rule matched (a rule set without
    /// a `Default` rule), in which case `sampled` is false.
    pub rule: Option<RuleRef>,
    /// The name of that rule, when it has a kept copy (every rule but those
    /// with very long names, or beyond thousands of distinct names): a
    /// decision can name its rule without allocating.
    pub rule_name: Option<&'static str>,
    /// Whether that rule has a `SamplingRateBoost`: X-Ray wants to hear how
    /// its traces end ([`RuleSet::record_root`]).
    pub boosted: bool,
}

/// Which rule of which rule set decided. Resolve it with
/// [`RuleSet::rule_name`] or [`crate::Sampler::rule_name`]; it stays valid
/// for the rule set that made the decision only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RuleRef {
    set: u64,
    index: u32,
}

impl RuleRef {
    /// Position of the rule in its set's matching order.
    pub fn index(self) -> usize {
        self.index as usize
    }

    /// Identity of the rule set the rule belongs to.
    pub fn set_id(self) -> u64 {
        self.set
    }
}

/// The outcome of applying a GetSamplingTargets response.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetsApplied {
    /// The rules changed after they were fetched (`LastRuleModification` is
    /// later than the fetch time): call GetSamplingRules again.
    pub refresh_rules: bool,
    /// Target documents that named a rule of this set.
    pub applied: usize,
    /// Seconds until the soonest rule's statistics are due (from the targets'
    /// `Interval`s, 10 by default): when to call GetSamplingTargets next.
    pub next_report_in: u64,
}

struct FieldCheck {
    field: Field,
    pattern: Pattern,
}

struct CompiledRule {
    rule: SamplingRule,
    /// The rule's name, kept for the process's life (see [`label`]).
    label: Option<&'static str>,
    /// Non-`*` fields only: a `*` matches any value, known or not.
    checks: Box<[FieldCheck]>,
    attributes: Box<[(Box<str>, Pattern)]>,
    /// The set's catch-all rule (X-Ray's `Default`, or a local file's
    /// `default`): chosen whenever it is reached, without matching.
    always: bool,
    has_boost: bool,
    state: Arc<RuleState>,
}

impl CompiledRule {
    #[inline]
    fn matches(&self, texts: &Texts<'_>, req: &SamplingRequest<'_>) -> bool {
        for check in self.checks.iter() {
            let raw = texts.raw[check.field as usize];
            if raw.is_empty() {
                if check.field == Field::ResourceArn {
                    // An unknown resource ARN does not match a rule scoped to
                    // specific resources: such a rule should not capture
                    // traffic of services that cannot say where they run
                    // (this is what the OpenTelemetry X-Ray samplers do; the
                    // Python SDK ignores such rules altogether).
                    return false;
                }
                if !req.http_request
                    && matches!(
                        check.field,
                        Field::UrlPath | Field::HttpMethod | Field::Host
                    )
                {
                    // A root that is not an HTTP request has no host, method
                    // or path: rules about requests are not about it.
                    return false;
                }
                // An unknown value matches: the Python SDK tests
                // `not host or wildcard_match(rule.host, host)`.
                continue;
            }
            let ok = if !check.pattern.needs_chars() && texts.is_ascii(check.field as usize) {
                check.pattern.matches_ascii(raw.as_bytes())
            } else {
                check.pattern.matches_chars(raw)
            };
            if !ok {
                return false;
            }
        }
        // X-Ray: every attribute of the rule must be present on the request
        // and match its wildcard value. Names are compared exactly.
        self.attributes.iter().all(|(name, pattern)| {
            req.attributes
                .iter()
                .find(|(k, _)| *k == &**name)
                .is_some_and(|(_, v)| pattern.matches(v))
        })
    }
}

static NEXT_SET_ID: AtomicU64 = AtomicU64::new(1);

/// An ordered set of compiled rules.
///
/// Decisions ([`RuleSet::decide`]) take no lock, allocate nothing and make
/// no system call: the rules' pre-checks (one 8-byte window of one field
/// each, indexed so that rules looking at the same window are found with
/// one lookup) rule out most rules, the rest are matched field by field
/// against precompiled patterns, and the chosen rule's atomics are updated.
/// The poller builds a new set when rules change ([`RuleSet::replace`]),
/// keeping the state of rules that keep their name, and feeds targets
/// ([`RuleSet::apply_targets`]) and reads statistics
/// ([`RuleSet::take_statistics`]) through `&self`.
pub struct RuleSet {
    id: u64,
    rules: Box<[CompiledRule]>,
    /// Pre-checks of the reachable rules.
    prechecks: Prechecks,
    /// Rules from this index on come after the catch-all rule and can never
    /// be chosen.
    reachable: usize,
    /// Some reachable rule matches attributes.
    uses_attributes: bool,
    fetched_at: u64,
    skipped: Vec<SkippedRule>,
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSet")
            .field("id", &self.id)
            .field(
                "rules",
                &self.rules.iter().map(|r| &r.rule.name).collect::<Vec<_>>(),
            )
            .field("reachable", &self.reachable)
            .field("fetched_at", &self.fetched_at)
            .field("skipped", &self.skipped)
            .finish()
    }
}

impl RuleSet {
    /// A set of centralized rules fetched at `fetched_at` (epoch seconds).
    ///
    /// As in the Python SDK: rules that [`SamplingRule::skip_reason`] rejects
    /// are left out (see [`RuleSet::skipped`]); the rest are ordered by
    /// priority, then name (a stable sort, so duplicates keep their order);
    /// the first rule named `Default` in that order is chosen whenever it is
    /// reached, and rules ordered after it are never chosen (X-Ray gives
    /// `Default` the highest priority, 10000, so normally it is last).
    pub fn new(rules: Vec<SamplingRule>, fetched_at: u64) -> RuleSet {
        Self::build(rules, fetched_at, None)
    }

    /// Like [`RuleSet::new`], keeping the runtime state (reservoir usage,
    /// quota and its TTL, boost, report schedule, counters) of every rule of
    /// `self` whose name is in `rules`. Only the fixed rate starts again from
    /// the new definition's `FixedRate` (as the Python SDK's merge does) until
    /// the next target. Rules that share a name (X-Ray forbids it) are paired
    /// with old state in order.
    pub fn replace(&self, rules: Vec<SamplingRule>, fetched_at: u64) -> RuleSet {
        Self::build(rules, fetched_at, Some(self))
    }

    /// The rule set of a local rules file in either format: the SDKs'
    /// (see [`LocalRules`]) or X-Ray's own (see [`parse_sampling_rules`](crate::parse_sampling_rules)
    /// and [`RuleSet::local_from_rules`]).
    pub fn from_rules_file(text: &str) -> Result<RuleSet, ParseError> {
        if is_sdk_rules_file(text)? {
            Ok(Self::from_local(&LocalRules::parse(text)?))
        } else {
            Ok(Self::local_from_rules(parse_sampling_rules(text)?))
        }
    }

    /// A local rule set from rules in X-Ray's own format (a rules file
    /// written as the API or the AWS CLI write rules): matched and ordered
    /// as centralized rules are, but each rule's `ReservoirSize` is this
    /// process's own number per second, with no quota to wait for and no
    /// borrowing, as a local file's `fixed_target` is. Without a `Default`
    /// rule, the SDKs' default (one per second and 5% of the rest) is added,
    /// so that every request has a rule.
    pub fn local_from_rules(mut rules: Vec<SamplingRule>) -> RuleSet {
        if !rules
            .iter()
            .any(|r| r.is_default() && r.skip_reason().is_none())
        {
            let default = LocalRules::sdk_default().default;
            rules.push(SamplingRule::default_rule(
                default.rate,
                clamp_u32(default.fixed_target),
            ));
        }
        let mut set = Self::build(rules, 0, None);
        for rule in set.rules.iter_mut() {
            rule.state = Arc::new(RuleState::local(
                u64::from(rule.rule.reservoir_size),
                rule.rule.fixed_rate,
            ));
        }
        set
    }

    fn build(rules: Vec<SamplingRule>, fetched_at: u64, previous: Option<&RuleSet>) -> RuleSet {
        let mut skipped = Vec::new();
        let mut kept = Vec::with_capacity(rules.len());
        for rule in rules {
            match rule.skip_reason() {
                Some(reason) => skipped.push(SkippedRule {
                    name: rule.name,
                    reason,
                }),
                None => kept.push(rule),
            }
        }
        kept.sort_by(|a, b| {
            a.priority
                .cmp(&b.priority)
                .then_with(|| a.name.cmp(&b.name))
        });
        let mut old: HashMap<&str, VecDeque<&Arc<RuleState>>> = HashMap::new();
        if let Some(previous) = previous {
            for r in previous.rules.iter() {
                old.entry(r.rule.name.as_str())
                    .or_default()
                    .push_back(&r.state);
            }
        }
        let mut seen_default = false;
        let compiled = kept
            .into_iter()
            .map(|rule| {
                let can_borrow = rule.reservoir_size > 0;
                let state = match old
                    .get_mut(rule.name.as_str())
                    .and_then(VecDeque::pop_front)
                {
                    Some(state) => {
                        state.rate.store(rate_threshold(rule.fixed_rate), Relaxed);
                        state.can_borrow.store(can_borrow, Relaxed);
                        Arc::clone(state)
                    }
                    None => Arc::new(RuleState::new(rule.fixed_rate, can_borrow)),
                };
                let always = rule.is_default() && !seen_default;
                seen_default |= always;
                compile(rule, always, state)
            })
            .collect();
        Self::assemble(compiled, fetched_at, skipped)
    }

    /// The rule set of a local rules file: its rules in file order, then its
    /// default. Local rules match host, method and path only, take a fixed
    /// number of requests per second (`fixed_target`) and never borrow, like
    /// the Python SDK's local sampler.
    pub fn from_local(local: &LocalRules) -> RuleSet {
        let mut compiled: Vec<CompiledRule> = local
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let name = if r.description.is_empty() {
                    format!("local rule {}", i + 1)
                } else {
                    r.description.clone()
                };
                let priority = i32::try_from(i + 1).unwrap_or(i32::MAX);
                let rule = SamplingRule::new(name, priority, r.rate, clamp_u32(r.fixed_target))
                    .with_host(r.host.clone())
                    .with_http_method(r.http_method.clone())
                    .with_url_path(r.url_path.clone());
                let state = Arc::new(RuleState::local(r.fixed_target, r.rate));
                compile(rule, false, state)
            })
            .collect();
        let default =
            SamplingRule::default_rule(local.default.rate, clamp_u32(local.default.fixed_target));
        let state = Arc::new(RuleState::local(
            local.default.fixed_target,
            local.default.rate,
        ));
        compiled.push(compile(default, true, state));
        Self::assemble(compiled, 0, Vec::new())
    }

    fn assemble(rules: Vec<CompiledRule>, fetched_at: u64, skipped: Vec<SkippedRule>) -> RuleSet {
        let reachable = rules
            .iter()
            .position(|r| r.always)
            .map_or(rules.len(), |i| i + 1);
        let uses_attributes = rules[..reachable].iter().any(|r| !r.attributes.is_empty());
        let prechecks = Prechecks::new(&pre_checks(&rules[..reachable]));
        RuleSet {
            id: NEXT_SET_ID.fetch_add(1, Relaxed),
            rules: rules.into_boxed_slice(),
            prechecks,
            reachable,
            uses_attributes,
            fetched_at,
            skipped,
        }
    }

    /// Whether some rule that can be chosen matches a request's
    /// attributes: callers may leave them out of the request otherwise.
    #[inline]
    pub fn uses_attributes(&self) -> bool {
        self.uses_attributes
    }

    /// Decides whether to sample a new trace: finds the first rule (in
    /// order) that matches `req` and applies its reservoir and rate.
    ///
    /// `now` is the current epoch second and `random` 64 uniformly random
    /// bits (e.g. from the trace id). Per rule and second: while a quota from
    /// X-Ray is valid (`now <= ReservoirQuotaTTL`), up to quota requests are
    /// sampled; without a valid quota, a rule with a positive reservoir size
    /// borrows one request per second; every other request is sampled with
    /// the rule's fixed rate (the boosted rate while a boost is active and
    /// higher). Counts requests, sampled and borrowed per rule. A sampled
    /// request that borrowed counts as borrowed, not as sampled, as in the
    /// Python SDK.
    #[inline]
    pub fn decide(&self, req: &SamplingRequest<'_>, now: u64, random: u64) -> Decision {
        match self.find(req) {
            Some(index) => self.apply(index, now, random),
            None => Decision {
                sampled: false,
                borrowed: false,
                rule: None,
                rule_name: None,
                boosted: false,
            },
        }
    }

    /// The rule that would decide for `req`, without deciding (no counter
    /// or reservoir changes).
    pub fn matching_rule(&self, req: &SamplingRequest<'_>) -> Option<&SamplingRule> {
        self.find(req).map(|i| &self.rules[i].rule)
    }

    #[inline]
    fn find(&self, req: &SamplingRequest<'_>) -> Option<usize> {
        let texts = Texts::new(req);
        match &self.prechecks {
            Prechecks::Indexed(index) => {
                let mut candidates = index.candidates(&texts);
                while candidates != 0 {
                    let i = candidates.trailing_zeros() as usize;
                    let rule = self.rules.get(i)?;
                    if rule.always || rule.matches(&texts, req) {
                        return Some(i);
                    }
                    candidates &= candidates - 1;
                }
                None
            }
            Prechecks::Linear(linear) => {
                let mut i = 0;
                while i < self.reachable {
                    i = linear.first_from(&texts, i);
                    let rule = self.rules.get(i).filter(|_| i < self.reachable)?;
                    if rule.always || rule.matches(&texts, req) {
                        return Some(i);
                    }
                    i += 1;
                }
                None
            }
        }
    }

    #[inline]
    fn apply(&self, index: usize, now: u64, random: u64) -> Decision {
        let compiled = &self.rules[index];
        let state = &*compiled.state;
        let quota = state.quota.load(Relaxed);
        let mut sampled = false;
        let mut borrowed = false;
        if quota != NO_QUOTA && now <= state.quota_ttl.load(Relaxed) {
            sampled = state.reservoir.take(now, quota);
        } else if state.can_borrow.load(Relaxed) {
            borrowed = state.reservoir.borrow(now);
            sampled = borrowed;
        }
        if !sampled {
            sampled = (random >> 1) < state.threshold(now);
        }
        // The counters last: a locked read-modify-write makes the loads after
        // it wait.
        state.counters.requests.fetch_add(1, Relaxed);
        if borrowed {
            state.counters.borrowed.fetch_add(1, Relaxed);
        } else if sampled {
            state.counters.sampled.fetch_add(1, Relaxed);
        }
        Decision {
            sampled,
            borrowed,
            rule: Some(RuleRef {
                set: self.id,
                index: index as u32,
            }),
            rule_name: compiled.label,
            boosted: compiled.has_boost,
        }
    }

    /// The rules in matching order (including those after the catch-all).
    pub fn rules(&self) -> impl ExactSizeIterator<Item = &SamplingRule> + '_ {
        self.rules.iter().map(|r| &r.rule)
    }

    /// The rule a decision of this set refers to; `None` for another set's.
    pub fn rule(&self, rule: RuleRef) -> Option<&SamplingRule> {
        if rule.set != self.id {
            return None;
        }
        self.rules.get(rule.index()).map(|r| &r.rule)
    }

    /// The name of the rule a decision of this set refers to.
    pub fn rule_name(&self, rule: RuleRef) -> Option<&str> {
        self.rule(rule).map(|r| r.name.as_str())
    }

    /// Identity of this set, as in [`RuleRef::set_id`].
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Rules left out, and why.
    pub fn skipped(&self) -> &[SkippedRule] {
        &self.skipped
    }

    /// When the rules were fetched (epoch seconds).
    pub fn fetched_at(&self) -> u64 {
        self.fetched_at
    }

    /// Whether the rules are older than [`RULES_TTL`] at `now`.
    pub fn is_expired(&self, now: u64) -> bool {
        now > self.fetched_at.saturating_add(RULES_TTL)
    }

    /// Whether a `LastRuleModification` (epoch seconds, possibly fractional)
    /// is later than the fetch, so the rules must be fetched again. The
    /// comparison keeps the fraction: a change in the very second of the
    /// fetch triggers one refetch too many rather than being missed.
    pub fn modified_since_fetch(&self, last_rule_modification: f64) -> bool {
        last_rule_modification > self.fetched_at as f64
    }

    /// Applies a GetSamplingTargets response at `now`.
    ///
    /// Per target document naming a rule of this set: `FixedRate` replaces
    /// the rate; `ReservoirQuota` and `ReservoirQuotaTTL` (rounded down to
    /// the second) replace the quota and its expiry, and a missing one keeps
    /// the previous value, as in the Python SDK; `Interval` sets how many
    /// seconds until the rule's next report (10 if never given);
    /// `SamplingBoost` sets a boosted rate used while `now` is before
    /// `BoostRateTTL` (rounded up) and only when it is higher than the rate.
    pub fn apply_targets(&self, response: &GetSamplingTargetsResponse, now: u64) -> TargetsApplied {
        let mut applied = 0;
        for doc in &response.sampling_target_documents {
            let Some(name) = doc.rule_name.as_deref() else {
                continue;
            };
            for rule in self.rules.iter().filter(|r| r.rule.name == name) {
                applied += 1;
                let s = &rule.state;
                if let Some(rate) = doc.fixed_rate {
                    s.rate.store(rate_threshold(rate), Relaxed);
                }
                if let Some(quota) = doc.reservoir_quota {
                    // The SDK ignores a negative quota (it borrows instead).
                    let quota = u64::try_from(quota).map_or(NO_QUOTA, |q| q.min(MAX_PER_SECOND));
                    s.quota.store(quota, Relaxed);
                }
                if let Some(ttl) = doc.reservoir_quota_ttl {
                    s.quota_ttl.store(floor_secs(ttl), Relaxed);
                }
                if let Some(interval) = doc.interval {
                    s.interval.store(
                        u64::try_from(interval).unwrap_or(DEFAULT_INTERVAL).max(1),
                        Relaxed,
                    );
                }
                if let Some(boost) = &doc.sampling_boost {
                    s.boost_rate
                        .store(rate_threshold(boost.boost_rate), Relaxed);
                    s.boost_until
                        .store(ceil_secs(boost.boost_rate_ttl), Relaxed);
                }
                s.next_report
                    .store(now.saturating_add(s.interval.load(Relaxed)), Relaxed);
            }
        }
        let refresh_rules = response
            .last_rule_modification
            .is_some_and(|t| self.modified_since_fetch(t));
        TargetsApplied {
            refresh_rules,
            applied,
            next_report_in: self
                .next_report_at()
                .map_or(DEFAULT_INTERVAL, |t| t.saturating_sub(now)),
        }
    }

    /// The soonest epoch second at which some reachable rule's statistics
    /// are due.
    pub fn next_report_at(&self) -> Option<u64> {
        self.rules[..self.reachable]
            .iter()
            .map(|r| r.state.next_report.load(Relaxed))
            .min()
    }

    /// Reads and resets the statistics of the rules that are due at `now`
    /// and matched at least one request since their last report (the Python
    /// SDK does not report rules that saw no request either). Each reported
    /// rule's next report is due `Interval` seconds later.
    ///
    /// Counts move exactly once from the rules to the documents; a decision
    /// running while the counters are read may land its request and its
    /// sampled count in two consecutive documents.
    pub fn take_statistics(&self, now: u64, client_id: &str) -> Vec<SamplingStatisticsDocument> {
        let mut docs = Vec::new();
        for rule in self.rules[..self.reachable].iter() {
            let s = &rule.state;
            if now < s.next_report.load(Relaxed) || s.counters.requests.load(Relaxed) == 0 {
                continue;
            }
            // Sampled and borrowed first: a decision counts its request before
            // them, so a document never has more sampled than requests from
            // decisions that finished before the snapshot.
            let sampled = s.counters.sampled.swap(0, Relaxed);
            let borrowed = s.counters.borrowed.swap(0, Relaxed);
            let requests = s.counters.requests.swap(0, Relaxed);
            s.next_report
                .store(now.saturating_add(s.interval.load(Relaxed)), Relaxed);
            docs.push(SamplingStatisticsDocument {
                rule_name: rule.rule.name.clone(),
                client_id: client_id.to_owned(),
                timestamp: now,
                request_count: requests,
                sampled_count: sampled,
                borrow_count: borrowed,
            });
        }
        docs
    }

    /// Records a finished local root of a trace that `rule` sampled or not:
    /// one more trace, and one more anomaly (sampled or not) if
    /// `anomaly_for_boost`. Only rules with a `SamplingRateBoost` count, as
    /// X-Ray only boosts those (the ADOT samplers do the same). Returns
    /// whether it was recorded (`false` for another set's rule or a rule
    /// without boost).
    pub fn record_root(&self, rule: RuleRef, anomaly_for_boost: bool, sampled: bool) -> bool {
        if rule.set != self.id {
            return false;
        }
        let Some(r) = self.rules.get(rule.index()) else {
            return false;
        };
        if !r.has_boost {
            return false;
        }
        let c = &r.state.boost_counters;
        c.total.fetch_add(1, Relaxed);
        if anomaly_for_boost {
            c.anomalies.fetch_add(1, Relaxed);
            if sampled {
                c.sampled_anomalies.fetch_add(1, Relaxed);
            }
        }
        true
    }

    /// Reads and resets the boost statistics of every rule that recorded a
    /// trace since the last call (the ADOT samplers send them with every
    /// GetSamplingTargets call, for rules with a non-zero `TotalCount`).
    pub fn take_boost_statistics(
        &self,
        now: u64,
        service_name: &str,
    ) -> Vec<SamplingBoostStatisticsDocument> {
        let mut docs = Vec::new();
        for rule in self.rules.iter().filter(|r| r.has_boost) {
            let c = &rule.state.boost_counters;
            if c.total.load(Relaxed) == 0 {
                continue;
            }
            let sampled_anomalies = c.sampled_anomalies.swap(0, Relaxed);
            let anomalies = c.anomalies.swap(0, Relaxed);
            let total = c.total.swap(0, Relaxed);
            docs.push(SamplingBoostStatisticsDocument {
                rule_name: rule.rule.name.clone(),
                service_name: service_name.to_owned(),
                timestamp: now,
                anomaly_count: anomalies,
                total_count: total,
                sampled_anomaly_count: sampled_anomalies,
            });
        }
        docs
    }
}

fn clamp_u32(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

fn compile(rule: SamplingRule, always: bool, state: Arc<RuleState>) -> CompiledRule {
    let fields = [
        (Field::UrlPath, &rule.url_path),
        (Field::HttpMethod, &rule.http_method),
        (Field::Host, &rule.host),
        (Field::ServiceName, &rule.service_name),
        (Field::ServiceType, &rule.service_type),
        (Field::ResourceArn, &rule.resource_arn),
    ];
    let checks = fields
        .into_iter()
        .map(|(field, pattern)| FieldCheck {
            field,
            pattern: Pattern::new(pattern),
        })
        .filter(|c| !c.pattern.is_any())
        .collect();
    let attributes = rule
        .attributes
        .iter()
        .map(|(k, v)| (k.as_str().into(), Pattern::new(v)))
        .collect();
    CompiledRule {
        has_boost: rule.sampling_rate_boost.is_some(),
        label: label::intern(&rule.name),
        rule,
        checks,
        attributes,
        always,
        state,
    }
}

/// Each rule's pre-check: the quick key of its first checked field that has
/// one (none for the catch-all, which is chosen without matching).
fn pre_checks(rules: &[CompiledRule]) -> Vec<Option<Quick>> {
    rules
        .iter()
        .map(|r| {
            r.checks
                .iter()
                .find_map(|c| {
                    c.pattern.quick_key().map(|key| Quick {
                        key,
                        field: c.field as u8,
                    })
                })
                .filter(|_| !r.always)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::FIELDS;
    use crate::test_rng::Rng;

    /// A pattern or a text: a few shapes that share windows (paths of one
    /// API at two depths, suffixes), in random case, with `?` and `*` in
    /// places, or random characters (some beyond ASCII).
    fn text(rng: &mut Rng, pattern: bool) -> String {
        let n = rng.below(30);
        let mut t = match rng.below(6) {
            0 => format!("/api/v1/service{n}/orders/{}", rng.below(100)),
            1 => format!("/API/V2/Service{n}/items"),
            2 => format!("/x/service{n}/health"),
            3 => format!("svc-{n}.example.com"),
            4 => rng
                .pick(&["GET", "post", "", "x", "Orders-API", "/a/b"])
                .to_owned(),
            _ => (0..rng.below(14))
                .map(|_| rng.pick(&["a", "B", "/", "1", "?", "*", "K", "\u{212A}", "é"]))
                .collect(),
        };
        if pattern {
            t = match rng.below(5) {
                0 => format!(
                    "{}*",
                    &t[..t
                        .char_indices()
                        .nth(t.chars().count() / 2)
                        .map_or(0, |(i, _)| i)]
                ),
                1 => format!("*{}", t.chars().skip(3).collect::<String>()),
                2 => t.replacen('1', "?", 1),
                3 => "*".to_owned(),
                _ => t,
            };
        } else if rng.below(3) == 0 {
            t = t.to_uppercase();
        }
        t
    }

    fn random_set(rng: &mut Rng, rules: usize) -> RuleSet {
        let mut list: Vec<SamplingRule> = (0..rules)
            .map(|i| {
                let mut rule = SamplingRule::new(format!("r{i:03}"), i as i32 + 1, 0.5, 1);
                for field in 0..FIELDS {
                    if rng.below(3) == 0 {
                        continue;
                    }
                    let pattern = text(rng, true);
                    rule = match field {
                        0 => rule.with_url_path(pattern),
                        1 => rule.with_http_method(pattern),
                        2 => rule.with_host(pattern),
                        3 => rule.with_service_name(pattern),
                        4 => rule.with_service_type(pattern),
                        _ => rule.with_resource_arn(pattern),
                    };
                }
                rule
            })
            .collect();
        if rng.below(4) != 0 {
            list.push(SamplingRule::default_rule(0.05, 1));
        }
        RuleSet::new(list, 1)
    }

    fn request(fields: &[String]) -> SamplingRequest<'_> {
        SamplingRequest {
            url_path: &fields[0],
            http_method: &fields[1],
            host: &fields[2],
            service_name: &fields[3],
            service_type: &fields[4],
            resource_arn: &fields[5],
            ..SamplingRequest::new()
        }
    }

    /// The first rule that matches in full, without any pre-check.
    fn first_match(set: &RuleSet, req: &SamplingRequest<'_>) -> Option<usize> {
        let texts = Texts::new(req);
        set.rules[..set.reachable]
            .iter()
            .position(|r| r.always || r.matches(&texts, req))
    }

    #[test]
    fn pre_checks_never_rule_out_the_rule_that_matches() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let (mut by_rules, mut indexed, mut windows) = (0, 0, 0);
        for round in 0..400 {
            let size = [3, 20, 63, 90][round % 4];
            let mut set = random_set(&mut rng, size);
            if let Prechecks::Indexed(index) = &set.prechecks {
                indexed += 1;
                windows += index.windows();
            }
            let requests: Vec<Vec<String>> = (0..200)
                .map(|_| (0..FIELDS).map(|_| text(&mut rng, false)).collect())
                .collect();
            let expected: Vec<Option<usize>> = requests
                .iter()
                .map(|f| first_match(&set, &request(f)))
                .collect();
            let found: Vec<Option<usize>> =
                requests.iter().map(|f| set.find(&request(f))).collect();
            set.prechecks = Prechecks::linear(&pre_checks(&set.rules[..set.reachable]));
            let found_linearly: Vec<Option<usize>> =
                requests.iter().map(|f| set.find(&request(f))).collect();
            for (i, fields) in requests.iter().enumerate() {
                let req = request(fields);
                assert_eq!(found[i], expected[i], "{req:?} in {set:?}");
                assert_eq!(found_linearly[i], expected[i], "{req:?} in {set:?}");
                by_rules += usize::from(expected[i].is_some_and(|r| !set.rules[r].always));
            }
        }
        assert_eq!(indexed, 300, "sets of up to 64 rules are indexed");
        assert!(windows > 300, "shared windows: {windows}");
        assert!(by_rules > 5_000, "requests matched by a rule: {by_rules}");
    }
}
