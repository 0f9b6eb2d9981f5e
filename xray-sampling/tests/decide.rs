//! Decisions, reservoirs, targets, statistics and rule replacement.

use xray_sampling::api::{
    GetSamplingTargetsRequest, GetSamplingTargetsResponse, SamplingBoost, SamplingTargetDocument,
};
use xray_sampling::{
    AdaptiveSamplingConfig, LocalRules, RootOutcome, RuleSet, Sampler, SamplingRequest,
    SamplingRule, SkipReason,
};

const T0: u64 = 1_700_000_000;

fn req<'a>(method: &'a str, path: &'a str) -> SamplingRequest<'a> {
    SamplingRequest {
        http_method: method,
        url_path: path,
        ..SamplingRequest::new()
    }
}

fn name(set: &RuleSet, r: &SamplingRequest<'_>) -> Option<String> {
    set.matching_rule(r).map(|rule| rule.name.clone())
}

/// Deterministic 64-bit values (splitmix64).
struct Random(u64);
impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn target(rule: &str) -> SamplingTargetDocument {
    SamplingTargetDocument {
        rule_name: Some(rule.to_owned()),
        ..SamplingTargetDocument::default()
    }
}

fn targets(
    docs: Vec<SamplingTargetDocument>,
    last_modification: Option<f64>,
) -> GetSamplingTargetsResponse {
    GetSamplingTargetsResponse {
        sampling_target_documents: docs,
        last_rule_modification: last_modification,
        ..GetSamplingTargetsResponse::default()
    }
}

#[test]
fn priority_then_name_and_first_match_wins() {
    let set = RuleSet::new(
        vec![
            SamplingRule::default_rule(0.05, 1),
            SamplingRule::new("b", 5, 0.1, 1).with_url_path("/api/*"),
            SamplingRule::new("a", 5, 0.1, 1).with_url_path("/api/v1/*"),
            SamplingRule::new("first", 1, 0.1, 1).with_http_method("POST"),
        ],
        T0,
    );
    let order: Vec<&str> = set.rules().map(|r| r.name.as_str()).collect();
    assert_eq!(order, ["first", "a", "b", "Default"]);
    assert_eq!(name(&set, &req("GET", "/api/v1/x")).as_deref(), Some("a"));
    assert_eq!(name(&set, &req("GET", "/api/v2/x")).as_deref(), Some("b"));
    assert_eq!(
        name(&set, &req("POST", "/api/v1/x")).as_deref(),
        Some("first")
    );
    assert_eq!(
        name(&set, &req("GET", "/other")).as_deref(),
        Some("Default")
    );
}

#[test]
fn default_is_chosen_when_reached_and_hides_later_rules() {
    let set = RuleSet::new(
        vec![
            SamplingRule::default_rule(0.05, 1),
            // Sorted after Default (same priority, later name): never chosen.
            SamplingRule::new("Zeta", 10_000, 1.0, 1).with_url_path("/z"),
            // Sorted before it: chosen.
            SamplingRule::new("Alpha", 10_000, 1.0, 1).with_url_path("/a"),
        ],
        T0,
    );
    assert_eq!(name(&set, &req("GET", "/a")).as_deref(), Some("Alpha"));
    assert_eq!(name(&set, &req("GET", "/z")).as_deref(), Some("Default"));
}

#[test]
fn without_default_nothing_may_match() {
    let set = RuleSet::new(
        vec![SamplingRule::new("api", 1, 1.0, 1).with_url_path("/api/*")],
        T0,
    );
    let d = set.decide(&req("GET", "/other"), T0, 0);
    assert_eq!((d.sampled, d.borrowed, d.rule), (false, false, None));
    assert!(set.decide(&req("GET", "/api/x"), T0, 0).rule.is_some());
}

#[test]
fn unknown_fields_attributes_and_resource_arn() {
    let set = RuleSet::new(
        vec![
            SamplingRule::new("arn", 1, 1.0, 1).with_resource_arn("arn:aws:ecs:*:container/web-*"),
            SamplingRule::new("tenant", 2, 1.0, 1)
                .with_attribute("tenant", "gold*")
                .with_attribute("region", "eu-?"),
            SamplingRule::new("path", 3, 1.0, 1)
                .with_url_path("/api/*")
                .with_host("*.example.com"),
            SamplingRule::default_rule(0.05, 1),
        ],
        T0,
    );
    // Unknown host and path match (as in the Python SDK); unknown ARN does not.
    assert_eq!(name(&set, &SamplingRequest::new()).as_deref(), Some("path"));
    assert_eq!(name(&set, &req("", "/api/x")).as_deref(), Some("path"));
    let with_host = SamplingRequest {
        host: "other.org",
        ..req("", "/api/x")
    };
    assert_eq!(name(&set, &with_host).as_deref(), Some("Default"));
    // Resource ARN, case-insensitive wildcard.
    let arn = SamplingRequest {
        resource_arn: "ARN:aws:ecs:us-east-1:container/WEB-1",
        ..SamplingRequest::new()
    };
    assert_eq!(name(&set, &arn).as_deref(), Some("arn"));
    // All of a rule's attributes must be present and match; names are exact.
    let attrs = [("tenant", "Gold-plus"), ("region", "eu-1"), ("other", "x")];
    let r = SamplingRequest {
        attributes: &attrs,
        host: "other.org",
        ..SamplingRequest::new()
    };
    assert_eq!(name(&set, &r).as_deref(), Some("tenant"));
    let missing = [("tenant", "gold")];
    let r = SamplingRequest {
        attributes: &missing,
        host: "other.org",
        ..SamplingRequest::new()
    };
    assert_eq!(name(&set, &r).as_deref(), Some("Default"));
    let wrong_case_name = [("Tenant", "gold"), ("region", "eu-1")];
    let r = SamplingRequest {
        attributes: &wrong_case_name,
        host: "other.org",
        ..SamplingRequest::new()
    };
    assert_eq!(name(&set, &r).as_deref(), Some("Default"));
}

#[test]
fn long_and_non_ascii_request_fields() {
    let set = RuleSet::new(
        vec![
            SamplingRule::new("long", 1, 1.0, 1).with_url_path("/long/*/end"),
            SamplingRule::new("cafe", 2, 1.0, 1).with_url_path("/CAFÉ/*"),
            SamplingRule::new("kelvin", 3, 1.0, 1).with_host("k*"),
            SamplingRule::default_rule(0.05, 1),
        ],
        T0,
    );
    let long = format!("/LONG/{}/END", "x".repeat(2000));
    assert_eq!(name(&set, &req("GET", &long)).as_deref(), Some("long"));
    assert_eq!(
        name(&set, &req("GET", "/café/menu")).as_deref(),
        Some("cafe")
    );
    let kelvin = SamplingRequest {
        host: "\u{212A}elvin",
        ..req("GET", "/k")
    };
    assert_eq!(name(&set, &kelvin).as_deref(), Some("kelvin"));
}

#[test]
fn invalid_rules_are_skipped() {
    let mut v2 = SamplingRule::new("v2", 1, 1.0, 1);
    v2.version = 2;
    let set = RuleSet::new(
        vec![
            v2,
            SamplingRule::new("no-type", 1, 1.0, 1).with_service_type(""),
            SamplingRule::new("no-arn", 1, 1.0, 1).with_resource_arn(""),
            SamplingRule::default_rule(0.05, 1),
        ],
        T0,
    );
    let reasons: Vec<(String, SkipReason)> = set
        .skipped()
        .iter()
        .map(|s| (s.name.clone(), s.reason.clone()))
        .collect();
    assert_eq!(
        reasons,
        [
            ("v2".to_owned(), SkipReason::UnsupportedVersion(2)),
            ("no-type".to_owned(), SkipReason::EmptyServiceType),
            ("no-arn".to_owned(), SkipReason::EmptyResourceArn),
        ]
    );
    assert_eq!(set.rules().len(), 1);
}

#[test]
fn borrows_one_per_second_until_a_quota_arrives() {
    let set = RuleSet::new(
        vec![
            SamplingRule::new("borrowing", 1, 0.0, 10).with_url_path("/b"),
            SamplingRule::new("no-reservoir", 2, 0.0, 0).with_url_path("/n"),
        ],
        T0,
    );
    for second in T0..T0 + 3 {
        let first = set.decide(&req("GET", "/b"), second, u64::MAX);
        assert!(first.sampled && first.borrowed, "second {second}");
        for _ in 0..10 {
            let d = set.decide(&req("GET", "/b"), second, u64::MAX);
            assert!(!d.sampled && !d.borrowed);
        }
        // ReservoirSize 0 never borrows.
        assert!(!set.decide(&req("GET", "/n"), second, u64::MAX).sampled);
    }
}

#[test]
fn quota_ttl_and_borrowing_after_expiry() {
    let set = RuleSet::new(vec![SamplingRule::new("r", 1, 0.0, 10)], T0);
    let t = SamplingTargetDocument {
        fixed_rate: Some(0.0),
        reservoir_quota: Some(3),
        reservoir_quota_ttl: Some((T0 + 5) as f64 + 0.9),
        interval: Some(10),
        ..target("r")
    };
    let applied = set.apply_targets(&targets(vec![t], None), T0);
    assert_eq!(applied.applied, 1);
    let count = |second: u64| {
        (0..20)
            .map(|_| set.decide(&SamplingRequest::new(), second, u64::MAX))
            .fold((0, 0), |(s, b), d| {
                (s + d.sampled as u32, b + d.borrowed as u32)
            })
    };
    // Valid through the TTL's second (rounded down, `now <= TTL`).
    for second in T0..=T0 + 5 {
        assert_eq!(count(second), (3, 0), "second {second}");
    }
    // Expired: borrow one a second again.
    assert_eq!(count(T0 + 6), (1, 1));
    // A target without quota fields keeps the previous ones.
    set.apply_targets(
        &targets(
            vec![SamplingTargetDocument {
                reservoir_quota_ttl: Some((T0 + 100) as f64),
                ..target("r")
            }],
            None,
        ),
        T0 + 7,
    );
    assert_eq!(count(T0 + 8), (3, 0));
    // A zero quota samples nothing from the reservoir and does not borrow.
    set.apply_targets(
        &targets(
            vec![SamplingTargetDocument {
                reservoir_quota: Some(0),
                ..target("r")
            }],
            None,
        ),
        T0 + 9,
    );
    assert_eq!(count(T0 + 10), (0, 0));
}

#[test]
fn fixed_rate_counts_within_bounds() {
    let set = RuleSet::new(vec![SamplingRule::new("r", 1, 0.1, 1)], T0);
    set.apply_targets(
        &targets(
            vec![SamplingTargetDocument {
                fixed_rate: Some(0.1),
                reservoir_quota: Some(5),
                reservoir_quota_ttl: Some((T0 + 1000) as f64),
                ..target("r")
            }],
            None,
        ),
        T0,
    );
    let mut random = Random(42);
    let (mut sampled, mut by_rate) = (0u64, 0u64);
    let seconds = 10;
    let per_second = 1000;
    for second in T0..T0 + seconds {
        for i in 0..per_second {
            let r = random.next();
            let d = set.decide(&SamplingRequest::new(), second, r);
            assert!(!d.borrowed);
            if d.sampled {
                sampled += 1;
                if i >= 5 {
                    by_rate += 1;
                }
            }
            // Exactly the rate's draw beyond the reservoir.
            if i >= 5 {
                assert_eq!(
                    d.sampled,
                    (r >> 1) < (1u64 << 63) / 10,
                    "request {i} of second {second}"
                );
            } else {
                assert!(d.sampled, "reservoir place {i}");
            }
        }
    }
    // 5 per second from the reservoir, ~10% of the other 995 per second.
    let n = (seconds * (per_second - 5)) as f64;
    let (mean, sd) = (n * 0.1, (n * 0.1 * 0.9).sqrt());
    assert!(
        (by_rate as f64 - mean).abs() < 6.0 * sd,
        "{by_rate} sampled by rate, expected about {mean}"
    );
    assert_eq!(sampled, 50 + by_rate);
    let docs = set.take_statistics(T0 + seconds, "c");
    assert_eq!(docs.len(), 1);
    assert_eq!(
        (
            docs[0].request_count,
            docs[0].sampled_count,
            docs[0].borrow_count
        ),
        (seconds * per_second, sampled, 0)
    );
}

#[test]
fn local_rules_use_a_fixed_target_and_never_borrow() {
    let local = LocalRules::parse(
        r#"{"version": 2, "rules": [{"host": "*", "http_method": "GET", "url_path": "/api/*", "fixed_target": 2, "rate": 0}],
            "default": {"fixed_target": 0, "rate": 0}}"#,
    )
    .expect("valid");
    let set = RuleSet::from_local(&local);
    for second in [T0, T0 + 1] {
        let sampled = (0..10)
            .filter(|_| set.decide(&req("GET", "/api/x"), second, u64::MAX).sampled)
            .count();
        assert_eq!(sampled, 2);
        assert!(!set.decide(&req("GET", "/other"), second, u64::MAX).sampled);
    }
    assert!(set.decide(&req("GET", "/other"), T0, 0).rule.is_some());
}

#[test]
fn boost_raises_the_rate_until_its_ttl() {
    let set = RuleSet::new(
        vec![SamplingRule::new("r", 1, 0.0, 0).with_rate_boost(0.5, 10)],
        T0,
    );
    let boost = |rate: f64, ttl: f64| SamplingTargetDocument {
        fixed_rate: Some(0.0),
        sampling_boost: Some(SamplingBoost {
            boost_rate: rate,
            boost_rate_ttl: ttl,
        }),
        ..target("r")
    };
    set.apply_targets(&targets(vec![boost(1.0, (T0 + 3) as f64)], None), T0);
    let sampled = |second: u64| {
        set.decide(&SamplingRequest::new(), second, u64::MAX)
            .sampled
    };
    assert!(sampled(T0) && sampled(T0 + 2));
    assert!(!sampled(T0 + 3), "the boost ends at its TTL");
    // A boost below the fixed rate does not lower it.
    set.apply_targets(
        &targets(
            vec![SamplingTargetDocument {
                fixed_rate: Some(1.0),
                ..boost(0.0, (T0 + 100) as f64)
            }],
            None,
        ),
        T0 + 4,
    );
    assert!(sampled(T0 + 5));
}

#[test]
fn state_survives_replacing_the_rules() {
    let rules = || {
        vec![
            SamplingRule::new("kept", 1, 0.0, 1).with_url_path("/k"),
            SamplingRule::new("dropped", 2, 0.0, 1).with_url_path("/d"),
            SamplingRule::default_rule(0.0, 1),
        ]
    };
    let first = RuleSet::new(rules(), T0);
    first.apply_targets(
        &targets(
            vec![SamplingTargetDocument {
                fixed_rate: Some(1.0),
                reservoir_quota: Some(2),
                reservoir_quota_ttl: Some((T0 + 100) as f64),
                interval: Some(30),
                ..target("kept")
            }],
            None,
        ),
        T0,
    );
    let d = first.decide(&req("GET", "/k"), T0 + 1, u64::MAX);
    assert!(d.sampled && !d.borrowed);

    // New rules from GetSamplingRules: "kept" keeps its name (with a new
    // definition), "dropped" is renamed.
    let mut new_rules = rules();
    new_rules[0].fixed_rate = 0.0;
    new_rules[0].url_path = "/k*".into();
    new_rules[1].name = "renamed".into();
    let second = first.replace(new_rules, T0 + 50);
    // The quota and this second's usage carried over: one place left.
    let d1 = second.decide(&req("GET", "/k"), T0 + 1, u64::MAX);
    let d2 = second.decide(&req("GET", "/k"), T0 + 1, u64::MAX);
    assert!(d1.sampled && !d1.borrowed);
    assert!(
        !d2.sampled,
        "quota of 2 per second used up across both sets; the rate was reset to the rule's 0"
    );
    assert_eq!(second.rule_name(d1.rule.expect("matched")), Some("kept"));
    // The renamed rule starts afresh: it borrows.
    assert!(second.decide(&req("GET", "/d"), T0 + 1, u64::MAX).borrowed);
    // Counters carried over too: 3 requests on "kept", reported after the
    // target's 30 s interval.
    assert!(
        second
            .take_statistics(T0 + 29, "c")
            .iter()
            .all(|d| d.rule_name != "kept")
    );
    let docs = second.take_statistics(T0 + 30, "c");
    let kept = docs
        .iter()
        .find(|d| d.rule_name == "kept")
        .expect("kept is due");
    assert_eq!(
        (kept.request_count, kept.sampled_count, kept.borrow_count),
        (3, 2, 0)
    );
    // References from the old set do not resolve in the new one.
    assert_eq!(second.rule_name(d.rule.expect("matched")), None);
}

#[test]
fn statistics_are_read_reset_and_scheduled() {
    let set = RuleSet::new(
        vec![
            SamplingRule::new("used", 1, 1.0, 1).with_url_path("/u"),
            SamplingRule::new("unused", 2, 1.0, 1).with_url_path("/x"),
            SamplingRule::default_rule(0.0, 0),
        ],
        T0,
    );
    for _ in 0..4 {
        set.decide(&req("GET", "/u"), T0, u64::MAX);
    }
    let docs = set.take_statistics(T0, "0123456789abcdef01234567");
    assert_eq!(docs.len(), 1, "only rules that saw requests are reported");
    let d = &docs[0];
    assert_eq!(
        (d.rule_name.as_str(), d.client_id.as_str(), d.timestamp),
        ("used", "0123456789abcdef01234567", T0)
    );
    // One borrowed, three by the rate of 1: borrowed is not counted as sampled.
    assert_eq!(
        (d.request_count, d.sampled_count, d.borrow_count),
        (4, 3, 1)
    );
    set.decide(&req("GET", "/u"), T0 + 1, u64::MAX);
    assert!(
        set.take_statistics(T0 + 9, "c").is_empty(),
        "not due before the default interval of 10 s"
    );
    let docs = set.take_statistics(T0 + 10, "c");
    assert_eq!(
        (
            docs[0].request_count,
            docs[0].sampled_count,
            docs[0].borrow_count
        ),
        (1, 0, 1)
    );
    assert!(set.take_statistics(T0 + 30, "c").is_empty(), "reset");
}

#[test]
fn last_rule_modification_asks_for_a_refetch() {
    let set = RuleSet::new(vec![SamplingRule::default_rule(0.05, 1)], T0);
    assert!(
        !set.apply_targets(&targets(vec![], Some((T0 - 10) as f64)), T0 + 10)
            .refresh_rules
    );
    assert!(
        !set.apply_targets(&targets(vec![], Some(T0 as f64)), T0 + 10)
            .refresh_rules
    );
    assert!(
        set.apply_targets(&targets(vec![], Some(T0 as f64 + 0.5)), T0 + 10)
            .refresh_rules
    );
    assert!(
        !set.apply_targets(&targets(vec![], None), T0 + 10)
            .refresh_rules
    );
    let applied = set.apply_targets(
        &targets(
            vec![SamplingTargetDocument {
                interval: Some(25),
                ..target("Default")
            }],
            None,
        ),
        T0,
    );
    assert_eq!(applied.next_report_in, 25);
}

#[test]
fn sampler_falls_back_to_local_rules() {
    let sampler = Sampler::with_default_local_rules("000000000000000000000000");
    // No centralized rules yet: the local default (1/s, 5%).
    let d = sampler.decide(&SamplingRequest::new(), T0, u64::MAX);
    assert!(d.sampled && !d.borrowed);
    assert_eq!(
        sampler.rule_name(d.rule.expect("local default")).as_deref(),
        Some("Default")
    );
    assert!(sampler.take_statistics(T0).is_empty());

    let skipped = sampler.update_rules(
        vec![SamplingRule::new("api", 1, 0.0, 1).with_url_path("/api/*")],
        T0,
    );
    assert!(skipped.is_empty());
    let central = sampler.centralized_rules().expect("installed");
    let d = sampler.decide(&req("GET", "/api/x"), T0, u64::MAX);
    assert_eq!(d.rule.map(|r| r.set_id()), Some(central.id()));
    // No centralized rule matches: local rules decide.
    let d = sampler.decide(&req("GET", "/other"), T0 + 1, u64::MAX);
    assert_eq!(d.rule.map(|r| r.set_id()), Some(sampler.local_rules().id()));
    // Expired after an hour without a successful fetch.
    let d = sampler.decide(&req("GET", "/api/x"), T0 + 3601, u64::MAX);
    assert_eq!(d.rule.map(|r| r.set_id()), Some(sampler.local_rules().id()));
    // A fetch with no usable rule changes nothing.
    let mut v2 = SamplingRule::default_rule(1.0, 1);
    v2.version = 2;
    let skipped = sampler.update_rules(vec![v2], T0 + 3602);
    assert_eq!(skipped.len(), 1);
    assert_eq!(
        sampler.centralized_rules().map(|s| s.id()),
        Some(central.id())
    );
}

#[test]
fn boost_statistics_and_finished_roots() {
    let sampler = Sampler::with_default_local_rules("000000000000000000000000");
    sampler.update_rules(
        vec![
            SamplingRule::new("boosted", 1, 0.0, 0)
                .with_url_path("/b")
                .with_rate_boost(0.5, 5),
            SamplingRule::default_rule(0.0, 0),
        ],
        T0,
    );
    let config = AdaptiveSamplingConfig::from_json(r#"{"version": 1.0, "anomalyConditions": [{"errorCodeRegex": "5..", "usage": "sampling-boost"}, {"highLatencyMs": 500, "usage": "anomaly-trace-capture"}]}"#)
        .expect("valid config");
    let boosted = sampler.decide(&req("GET", "/b"), T0, u64::MAX);
    let plain = sampler.decide(&req("GET", "/x"), T0, u64::MAX);
    let (rb, rp) = (boosted.rule.expect("matched"), plain.rule.expect("matched"));
    let error = RootOutcome {
        status_code: Some(503),
        operation: "GET /b",
        ..RootOutcome::default()
    };
    let slow = RootOutcome {
        status_code: Some(200),
        latency: std::time::Duration::from_millis(700),
        operation: "GET /b",
        ..RootOutcome::default()
    };
    let a = sampler.finish_root(rb, false, &error, Some(&config));
    assert!(a.boost && !a.capture);
    let a = sampler.finish_root(rb, true, &error, Some(&config));
    assert!(a.boost);
    let a = sampler.finish_root(rb, true, &slow, Some(&config));
    assert!(!a.boost && a.capture);
    // Rules without SamplingRateBoost record nothing.
    assert!(!sampler.record_root(rp, true, true));
    let docs = sampler.take_boost_statistics(T0 + 10, "checkout");
    assert_eq!(docs.len(), 1);
    let d = &docs[0];
    assert_eq!(
        (d.rule_name.as_str(), d.service_name.as_str(), d.timestamp),
        ("boosted", "checkout", T0 + 10)
    );
    assert_eq!(
        (d.total_count, d.anomaly_count, d.sampled_anomaly_count),
        (3, 2, 1)
    );
    assert!(
        sampler
            .take_boost_statistics(T0 + 20, "checkout")
            .is_empty()
    );
}

#[test]
fn targets_requests_are_batched_by_25() {
    let mut rules: Vec<SamplingRule> = (0..30)
        .map(|i| {
            SamplingRule::new(format!("r{i:02}"), i + 1, 1.0, 1).with_url_path(format!("/{i}"))
        })
        .collect();
    rules.push(SamplingRule::default_rule(0.05, 1));
    let sampler = Sampler::with_default_local_rules("0123456789abcdef01234567");
    sampler.update_rules(rules, T0);
    for i in 0..30 {
        sampler.decide(&req("GET", &format!("/{i}")), T0, 0);
    }
    let requests = sampler.targets_requests(T0, "svc");
    let sizes: Vec<usize> = requests
        .iter()
        .map(|r| r.sampling_statistics_documents.len())
        .collect();
    assert_eq!(sizes, [25, 5]);
    assert!(
        requests
            .iter()
            .all(|r| r.sampling_boost_statistics_documents.is_empty())
    );
    assert!(sampler.targets_requests(T0 + 1, "svc").is_empty());
    assert!(GetSamplingTargetsRequest::batches(vec![], vec![]).is_empty());
}

#[test]
fn rules_in_xray_format_used_locally_take_their_reservoir_each_second() {
    let set = RuleSet::local_from_rules(vec![
        SamplingRule::new("health", 1, 0.0, 0).with_url_path("/health"),
        SamplingRule::new("api", 2, 0.0, 3).with_url_path("/api/*"),
    ]);
    // No Default in the file: the SDKs' default is added last.
    let names: Vec<&str> = set.rules().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["health", "api", "Default"]);
    let mut random = Random(7);
    for second in 0..3 {
        let now = T0 + second;
        let health = (0..10)
            .filter(|_| {
                set.decide(&req("GET", "/health"), now, random.next())
                    .sampled
            })
            .count();
        assert_eq!(health, 0, "a zero reservoir and rate never samples");
        let api: Vec<_> = (0..10)
            .map(|_| set.decide(&req("POST", "/api/orders"), now, random.next()))
            .collect();
        // Three a second from the reservoir, none borrowed, rate 0 for the rest.
        assert_eq!(api.iter().filter(|d| d.sampled).count(), 3);
        assert!(api.iter().all(|d| !d.borrowed));
        let other = set.decide(&req("GET", "/"), now, random.next());
        assert_eq!(
            other.rule.and_then(|r| set.rule_name(r)),
            Some("Default"),
            "unmatched requests fall to the added default"
        );
        assert_eq!(
            other.rule_name,
            Some("Default"),
            "the decision names its rule"
        );
    }
    // With its own Default, nothing is added.
    let set = RuleSet::local_from_rules(vec![SamplingRule::default_rule(0.5, 2)]);
    assert_eq!(set.rules().count(), 1);
}

#[test]
fn roots_that_are_not_http_requests_match_only_rules_about_any_request() {
    let set = RuleSet::new(
        vec![
            SamplingRule::new("posts", 1, 1.0, 0).with_http_method("POST"),
            SamplingRule::new("api", 2, 1.0, 0).with_url_path("/api/*"),
            SamplingRule::new("billing", 3, 1.0, 0).with_service_name("billing"),
            SamplingRule::default_rule(0.0, 0),
        ],
        T0,
    );
    let job = SamplingRequest {
        service_name: "billing",
        http_request: false,
        ..SamplingRequest::new()
    };
    assert_eq!(name(&set, &job).as_deref(), Some("billing"));
    // The same root as an HTTP request with nothing known: the Python SDK's
    // reading, where unknown values match.
    let unknown = SamplingRequest {
        service_name: "billing",
        ..SamplingRequest::new()
    };
    assert_eq!(name(&set, &unknown).as_deref(), Some("posts"));
}

#[test]
fn a_snapshot_decides_as_its_sampler_until_the_rules_change() {
    let sampler = Sampler::with_default_local_rules("000000000000000000000001");
    let before = sampler.snapshot();
    assert_eq!(before.version(), sampler.version());
    sampler.update_rules(
        vec![
            SamplingRule::new("api", 1, 1.0, 0).with_url_path("/api/*"),
            SamplingRule::default_rule(0.0, 0),
        ],
        T0,
    );
    assert_ne!(
        before.version(),
        sampler.version(),
        "new rules, new version"
    );
    let request = req("GET", "/api/x");
    let rule = |d: xray_sampling::Decision| d.rule_name;
    assert_eq!(rule(before.decide(&request, T0, 1)), Some("Default"));
    let after = sampler.snapshot();
    assert_eq!(rule(after.decide(&request, T0, 1)), Some("api"));
    assert_eq!(rule(sampler.decide(&request, T0, 1)), Some("api"));
    // Targets change the rules' state, not the version: snapshots see them.
    let version = sampler.version();
    sampler.apply_targets(&targets(vec![target("api")], None), T0);
    assert_eq!(sampler.version(), version);
}
