//! Cost of one sampling decision.
//!
//! The main case: 20 rules with wildcard paths (prefix, infix `*`, leading
//! `*`, `?`), some with methods and hosts, where the matching rule is the
//! last one before `Default`, so every rule is tried. `now` stays in one
//! second, so after the first decision the reservoir is used up and the
//! fixed rate decides (the steady state of a busy service).

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use xray_sampling::{Pattern, RuleSet, Sampler, SamplingRequest, SamplingRule};

const NOW: u64 = 1_700_000_000;

fn twenty_rules() -> Vec<SamplingRule> {
    let mut rules: Vec<SamplingRule> = (0..20)
        .map(|i| {
            let path = match i % 4 {
                0 => format!("/api/v1/service{i}/*"),
                1 => format!("/api/v1/service{i}/*/items"),
                2 => format!("*/service{i}/health"),
                _ => format!("/api/v?/service{i}/*"),
            };
            let mut rule =
                SamplingRule::new(format!("rule-{i:02}"), i + 1, 0.1, 1).with_url_path(path);
            if i % 2 == 0 {
                rule = rule.with_http_method("GET");
            }
            if i % 3 == 0 {
                rule = rule.with_host("*.example.com");
            }
            rule
        })
        .collect();
    rules.push(SamplingRule::default_rule(0.05, 1));
    rules
}

const REQUEST: SamplingRequest<'static> = SamplingRequest {
    service_name: "checkout",
    service_type: "AWS::ECS::Container",
    host: "api.example.com",
    http_method: "GET",
    url_path: "/api/v1/service19/orders/42",
    resource_arn: "",
    attributes: &[],
    http_request: true,
};

fn bench(c: &mut Criterion) {
    let set = RuleSet::new(twenty_rules(), NOW);
    let last = set.matching_rule(&REQUEST).map(|r| r.name.clone());
    assert_eq!(
        last.as_deref(),
        Some("rule-19"),
        "the benchmark must match the last non-default rule"
    );

    let mut random = 0u64;
    let mut next = move || {
        random = random.wrapping_add(0x9E37_79B9_7F4A_7C15);
        random
    };

    c.bench_function("decide/20 rules, last matches", |b| {
        b.iter(|| set.decide(black_box(&REQUEST), black_box(NOW), next()))
    });

    let upper = SamplingRequest {
        url_path: "/API/V1/SERVICE19/ORDERS/42",
        host: "API.EXAMPLE.COM",
        ..REQUEST
    };
    c.bench_function("decide/20 rules, last matches, upper case", |b| {
        b.iter(|| set.decide(black_box(&upper), black_box(NOW), next()))
    });

    let first = SamplingRequest {
        url_path: "/api/v1/service0/orders/42",
        ..REQUEST
    };
    c.bench_function("decide/20 rules, first matches", |b| {
        b.iter(|| set.decide(black_box(&first), black_box(NOW), next()))
    });

    let none = SamplingRequest {
        url_path: "/static/app.js",
        ..REQUEST
    };
    c.bench_function("decide/20 rules, Default", |b| {
        b.iter(|| set.decide(black_box(&none), black_box(NOW), next()))
    });

    let sampler = Sampler::with_default_local_rules("000000000000000000000000");
    sampler.update_rules(twenty_rules(), NOW);
    c.bench_function("sampler/20 rules, last matches (arc-swap load)", |b| {
        b.iter(|| sampler.decide(black_box(&REQUEST), black_box(NOW), next()))
    });

    let pattern = Pattern::new("/api/v?/service19/*");
    c.bench_function("pattern/matches", |b| {
        b.iter(|| black_box(&pattern).matches(black_box("/api/v1/service19/orders/42")))
    });
}

criterion_group!(benches, bench);

/// Where the time goes: the fixed cost of a decision (a set with only
/// `Default`: no field checked, then the reservoir and counters), one rule,
/// and matching alone (no reservoir, no counters).
fn breakdown(c: &mut Criterion) {
    let only_default = RuleSet::new(vec![SamplingRule::default_rule(0.05, 1)], NOW);
    let mut r = 0u64;
    c.bench_function("breakdown/only Default", |b| {
        b.iter(|| {
            r = r.wrapping_add(0x9E37_79B9_7F4A_7C15);
            only_default.decide(black_box(&REQUEST), black_box(NOW), r)
        })
    });
    let one = RuleSet::new(
        vec![
            SamplingRule::new("a", 1, 0.05, 1).with_url_path("/api/*"),
            SamplingRule::default_rule(0.05, 1),
        ],
        NOW,
    );
    c.bench_function("breakdown/one prefix rule", |b| {
        b.iter(|| {
            r = r.wrapping_add(0x9E37_79B9_7F4A_7C15);
            one.decide(black_box(&REQUEST), black_box(NOW), r)
        })
    });
    c.bench_function("breakdown/match only, 20 rules", |b| {
        let set = RuleSet::new(twenty_rules(), NOW);
        b.iter(|| set.matching_rule(black_box(&REQUEST)).is_some())
    });
}
criterion_group!(breakdowns, breakdown);
criterion_main!(benches, breakdowns);
