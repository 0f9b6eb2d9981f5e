//! The reservoir under many threads deciding at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use xray_sampling::api::{GetSamplingTargetsResponse, SamplingTargetDocument};
use xray_sampling::{RuleSet, Sampler, SamplingRequest, SamplingRule};

const T0: u64 = 1_700_000_000;
const THREADS: usize = 4;

fn with_quota(set: &RuleSet, rule: &str, quota: i64) {
    set.apply_targets(
        &GetSamplingTargetsResponse {
            sampling_target_documents: vec![SamplingTargetDocument {
                rule_name: Some(rule.to_owned()),
                fixed_rate: Some(0.0),
                reservoir_quota: Some(quota),
                reservoir_quota_ttl: Some((T0 + 1_000_000) as f64),
                ..SamplingTargetDocument::default()
            }],
            ..GetSamplingTargetsResponse::default()
        },
        T0,
    );
}

#[test]
fn quota_is_never_exceeded_within_a_second() {
    let set = Arc::new(RuleSet::new(vec![SamplingRule::default_rule(0.0, 1)], T0));
    with_quota(&set, "Default", 50);
    let per_thread = 100_000u64;
    let sampled: u64 = (0..THREADS)
        .map(|_| {
            let set = Arc::clone(&set);
            thread::spawn(move || {
                (0..per_thread)
                    .filter(|_| {
                        set.decide(&SamplingRequest::new(), T0 + 1, u64::MAX)
                            .sampled
                    })
                    .count() as u64
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .sum();
    assert_eq!(sampled, 50);
    let docs = set.take_statistics(T0 + 10, "c"); // due 10 s after the target
    assert_eq!(docs[0].request_count, THREADS as u64 * per_thread);
    assert_eq!(docs[0].sampled_count, 50);
}

#[test]
fn one_borrow_per_second_across_threads() {
    let set = Arc::new(RuleSet::new(vec![SamplingRule::default_rule(0.0, 1)], T0));
    let borrowed: u64 = (0..THREADS)
        .map(|_| {
            let set = Arc::clone(&set);
            thread::spawn(move || {
                (0..50_000)
                    .filter(|_| set.decide(&SamplingRequest::new(), T0, u64::MAX).borrowed)
                    .count() as u64
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .sum();
    assert_eq!(borrowed, 1);
}

/// Threads walk through the seconds at their own pace, so some decide for a
/// second that others have already left; per second the quota still holds.
#[test]
fn per_second_quota_holds_while_seconds_advance() {
    const SECONDS: usize = 300;
    const QUOTA: u64 = 7;
    let set = Arc::new(RuleSet::new(vec![SamplingRule::default_rule(0.0, 1)], T0));
    with_quota(&set, "Default", QUOTA as i64);
    let counts: Arc<Vec<AtomicU64>> = Arc::new((0..SECONDS).map(|_| AtomicU64::new(0)).collect());
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (set, counts) = (Arc::clone(&set), Arc::clone(&counts));
            thread::spawn(move || {
                for (s, count) in counts.iter().enumerate() {
                    // Uneven pace per thread.
                    for _ in 0..(20 + 13 * t) {
                        if set
                            .decide(&SamplingRequest::new(), T0 + s as u64, u64::MAX)
                            .sampled
                        {
                            count.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread");
    }
    let per_second: Vec<u64> = counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    assert!(per_second.iter().all(|&n| n <= QUOTA), "{per_second:?}");
    let full = per_second.iter().filter(|&&n| n == QUOTA).count();
    assert!(
        full > SECONDS / 2,
        "the quota should usually be used up: {per_second:?}"
    );
}

/// Deciding while the poller swaps rule sets and applies targets: the quota
/// is shared across sets, so it holds per second, and nothing blocks.
#[test]
fn decisions_during_rule_replacement() {
    const QUOTA: u64 = 5;
    let rules = || {
        vec![
            SamplingRule::new("api", 1, 0.0, 1).with_url_path("/api/*"),
            SamplingRule::default_rule(0.0, 0),
        ]
    };
    let sampler = Arc::new(Sampler::with_default_local_rules(
        "000000000000000000000000",
    ));
    sampler.update_rules(rules(), T0);
    let central = sampler.centralized_rules().expect("installed");
    with_quota(&central, "api", QUOTA as i64);
    let stop = Arc::new(AtomicBool::new(false));
    let poller = {
        let (sampler, stop) = (Arc::clone(&sampler), Arc::clone(&stop));
        thread::spawn(move || {
            let mut swaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                sampler.update_rules(rules(), T0 + swaps % 100);
                swaps += 1;
            }
            swaps
        })
    };
    let sampled: u64 = (0..THREADS - 1)
        .map(|_| {
            let sampler = Arc::clone(&sampler);
            thread::spawn(move || {
                let req = SamplingRequest {
                    url_path: "/api/orders",
                    ..SamplingRequest::new()
                };
                (0..100_000)
                    .filter(|_| sampler.decide(&req, T0 + 1, u64::MAX).sampled)
                    .count() as u64
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .sum();
    stop.store(true, Ordering::Relaxed);
    let swaps = poller.join().expect("poller");
    assert!(swaps > 0);
    assert_eq!(sampled, QUOTA);
}
