//! Runs the benchmark's main case N times, for instruction counts under
//! callgrind: `valgrind --tool=callgrind target/release/examples/decide_probe 100000`.

use std::hint::black_box;
use xray_sampling::{RuleSet, SamplingRequest, SamplingRule};

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
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
    let set = RuleSet::new(rules, 1_700_000_000);
    let req = SamplingRequest {
        service_name: "checkout",
        service_type: "AWS::ECS::Container",
        host: "api.example.com",
        http_method: "GET",
        url_path: "/api/v1/service19/orders/42",
        ..SamplingRequest::new()
    };
    let mut sampled = 0u64;
    let mut random = 0u64;
    for _ in 0..n {
        random = random.wrapping_add(0x9E37_79B9_7F4A_7C15);
        sampled += u64::from(
            set.decide(black_box(&req), black_box(1_700_000_000), random)
                .sampled,
        );
    }
    println!("{n} decisions, {sampled} sampled");
}
