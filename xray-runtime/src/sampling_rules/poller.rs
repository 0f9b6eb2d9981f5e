//! The thread that keeps X-Ray's rules and quotas current: rules fetched
//! every polling interval (at once when X-Ray says they changed),
//! statistics sent and targets applied when the rules' intervals say (every
//! 10 s at first), both with jitter so that a fleet started together does
//! not call together. It never runs on the application's threads; a proxy
//! that is down, slow or answering garbage leaves the last good rules in
//! place, costs one stderr line per outage, and is tried again.

use std::collections::HashSet;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;
use tokio::time::{Instant, sleep_until};

use super::proxy::Proxy;
use crate::id::Rng;
use crate::sampler::rules::XrayRules;
use crate::span::stack::suppress_this_thread;

/// How often statistics go out before targets say otherwise.
const TARGETS_INTERVAL: Duration = Duration::from_secs(10);
/// Jitter added to each rules fetch.
const RULES_JITTER: Duration = Duration::from_secs(5);
/// Jitter added to each statistics report.
const TARGETS_JITTER: Duration = Duration::from_millis(100);
/// The first wait before fetching rules again after a failure; it doubles
/// up to the polling interval.
const FIRST_RETRY: Duration = Duration::from_secs(2);

/// Stops the thread when dropped.
#[derive(Debug)]
pub(crate) struct Poller {
    stop: watch::Sender<bool>,
}

impl Drop for Poller {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Starts the thread for `rules`, polling the proxy at `base`.
pub(crate) fn start(
    rules: Arc<XrayRules>,
    base: String,
    polling_interval: Duration,
) -> Option<Poller> {
    let (stop, stopped) = watch::channel(false);
    let spawned = std::thread::Builder::new()
        .name("xray-sampling".into())
        .spawn(move || {
            suppress_this_thread();
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(err) => {
                    eprintln!(
                        "xray: cannot start polling X-Ray sampling rules ({err}); local rules decide"
                    );
                    return;
                }
            };
            runtime.block_on(until_stopped(
                poll(rules, base, polling_interval),
                stopped,
            ));
        });
    match spawned {
        // Detached: a stopped poller ends within one of its waits.
        Ok(_) => Some(Poller { stop }),
        Err(err) => {
            eprintln!(
                "xray: cannot start polling X-Ray sampling rules ({err}); local rules decide"
            );
            None
        }
    }
}

/// Runs `work` until it ends or `stopped` turns true.
async fn until_stopped(work: impl Future<Output = ()>, mut stopped: watch::Receiver<bool>) {
    let stop = async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let mut work = pin!(work);
    let mut stop = pin!(stop);
    poll_fn(|cx| {
        if stop.as_mut().poll(cx).is_ready() || work.as_mut().poll(cx).is_ready() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
}

fn epoch_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Up to `max` of random delay.
fn jitter(rng: &mut Rng, max: Duration) -> Duration {
    let max_nanos = max.as_nanos().max(1) as u64;
    Duration::from_nanos(rng.next_u64() % max_nanos)
}

/// Whether the proxy answers, to say so once per change on stderr.
struct Health {
    base: String,
    /// `None` until the first call.
    up: Option<bool>,
}

impl Health {
    fn failed(&mut self, why: &str, have_rules: bool) {
        if self.up != Some(false) {
            let using = if have_rules {
                "the rules fetched last keep deciding"
            } else {
                "local rules decide"
            };
            eprintln!(
                "xray: the X-Ray sampling proxy at {} failed: {why}; {using} until it answers",
                self.base
            );
        }
        self.up = Some(false);
    }

    fn answered(&mut self) {
        if self.up == Some(false) {
            eprintln!(
                "xray: the X-Ray sampling proxy at {} answers again",
                self.base
            );
        }
        self.up = Some(true);
    }
}

async fn poll(rules: Arc<XrayRules>, base: String, polling_interval: Duration) {
    let proxy = Proxy::new(&base);
    let engine = rules.engine();
    let mut rng = Rng::new();
    let mut health = Health {
        base: proxy.base().to_string(),
        up: None,
    };
    let mut told_skipped = HashSet::new();
    let mut retry = FIRST_RETRY;
    let mut next_rules = Instant::now();
    let mut next_targets = Instant::now() + TARGETS_INTERVAL + jitter(&mut rng, TARGETS_JITTER);
    loop {
        sleep_until(next_rules.min(next_targets)).await;
        let now = Instant::now();
        if now >= next_rules {
            match proxy.sampling_rules().await {
                Ok(fetched) => {
                    health.answered();
                    retry = FIRST_RETRY;
                    for skipped in engine.update_rules(fetched, epoch_seconds()) {
                        if told_skipped.insert(skipped.name.clone()) {
                            eprintln!(
                                "xray: X-Ray sampling rule {:?} left out ({})",
                                skipped.name, skipped.reason
                            );
                        }
                    }
                    next_rules = Instant::now() + polling_interval + jitter(&mut rng, RULES_JITTER);
                }
                Err(why) => {
                    health.failed(&why, engine.centralized_rules().is_some());
                    next_rules = Instant::now() + retry + jitter(&mut rng, FIRST_RETRY);
                    retry = (retry * 2).min(polling_interval);
                }
            }
        }
        if now >= next_targets {
            let epoch = epoch_seconds();
            for request in engine.targets_requests(epoch, rules.service_name()) {
                match proxy.sampling_targets(&request).await {
                    Ok(targets) => {
                        health.answered();
                        let applied = engine.apply_targets(&targets, epoch_seconds());
                        if applied.is_some_and(|applied| applied.refresh_rules) {
                            // X-Ray's rules changed since they were fetched.
                            next_rules = Instant::now();
                        }
                    }
                    Err(why) => {
                        health.failed(&why, engine.centralized_rules().is_some());
                        break;
                    }
                }
            }
            next_targets = Instant::now() + until_report(&rules) + jitter(&mut rng, TARGETS_JITTER);
        }
    }
}

/// How long until some rule's statistics are due, from the targets'
/// intervals; never more than the default interval (so that a step of the
/// wall clock delays a report by at most that).
fn until_report(rules: &XrayRules) -> Duration {
    let due = rules
        .engine()
        .centralized_rules()
        .and_then(|set| set.next_report_at());
    match due {
        Some(at) => Duration::from_secs(at.saturating_sub(epoch_seconds()))
            .clamp(Duration::from_secs(1), TARGETS_INTERVAL),
        None => TARGETS_INTERVAL,
    }
}
