//! Per-rule state shared between decisions and the poller: reservoir, quota,
//! rates and counters, all atomics.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

/// Keeps a value on its own pair of cache lines (adjacent-line prefetching
/// on x86 pulls lines in pairs), so that counters written on every decision
/// do not slow down reads of the rule's configuration.
#[repr(align(128))]
#[derive(Default)]
pub(crate) struct Padded<T>(pub T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Largest per-second count the packed word holds; larger quotas are capped.
pub(crate) const MAX_PER_SECOND: u64 = (1 << 23) - 1;

/// Reservoir usage within one second, packed into one word so that a
/// compare-exchange updates the second and its counts together:
/// bits 63..24 are the epoch second, bits 23..1 the requests taken from the
/// quota in that second, bit 0 whether one was borrowed in it.
///
/// The quota and borrow counters are separate, as in the Python SDK's
/// reservoir: borrowing in a second does not use up quota received later in
/// the same second.
#[derive(Default)]
pub(crate) struct PerSecond(AtomicU64);

impl PerSecond {
    const SECOND_SHIFT: u32 = 24;

    #[inline]
    fn unpack(word: u64, now: u64) -> Option<(u64, u64)> {
        let second = word >> Self::SECOND_SHIFT;
        let now = now & ((1 << 40) - 1);
        if second == now {
            Some(((word >> 1) & MAX_PER_SECOND, word & 1))
        } else if second > now {
            // A decision that read the clock just before another one moved
            // the reservoir to the next second: its second is over, and
            // resetting the counts to it would let the new second's quota be
            // used twice.
            None
        } else {
            Some((0, 0))
        }
    }

    #[inline]
    fn pack(now: u64, taken: u64, borrowed: u64) -> u64 {
        ((now & ((1 << 40) - 1)) << Self::SECOND_SHIFT) | (taken << 1) | borrowed
    }

    /// Takes one of `limit` places in second `now`.
    #[inline]
    pub(crate) fn take(&self, now: u64, limit: u64) -> bool {
        let mut current = self.0.load(Relaxed);
        loop {
            let Some((taken, borrowed)) = Self::unpack(current, now) else {
                return false;
            };
            if taken >= limit.min(MAX_PER_SECOND) {
                return false;
            }
            let next = Self::pack(now, taken + 1, borrowed);
            match self
                .0
                .compare_exchange_weak(current, next, Relaxed, Relaxed)
            {
                Ok(_) => return true,
                Err(seen) => current = seen,
            }
        }
    }

    /// Borrows the one request per second allowed without a quota.
    #[inline]
    pub(crate) fn borrow(&self, now: u64) -> bool {
        let mut current = self.0.load(Relaxed);
        loop {
            let Some((taken, borrowed)) = Self::unpack(current, now) else {
                return false;
            };
            if borrowed != 0 {
                return false;
            }
            let next = Self::pack(now, taken, 1);
            match self
                .0
                .compare_exchange_weak(current, next, Relaxed, Relaxed)
            {
                Ok(_) => return true,
                Err(seen) => current = seen,
            }
        }
    }
}

/// Threshold `t` such that a decision with random bits `r` samples when
/// `r >> 1 < t`, i.e. with probability `rate` (integer comparison on the hot
/// path, no floating point). Rates at or above 1 always sample; 0, negative
/// and NaN never do.
pub(crate) fn rate_threshold(rate: f64) -> u64 {
    const SCALE: f64 = 9_223_372_036_854_775_808.0; // 2^63
    if rate.is_nan() || rate <= 0.0 {
        0
    } else if rate >= 1.0 {
        1 << 63
    } else {
        (rate * SCALE) as u64
    }
}

/// Quota value meaning "no quota received yet".
pub(crate) const NO_QUOTA: u64 = u64::MAX;

/// Default seconds between two statistics reports of a rule, until a target
/// gives an `Interval`.
pub(crate) const DEFAULT_INTERVAL: u64 = 10;

/// Counters reported in SamplingStatisticsDocuments.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) requests: AtomicU64,
    pub(crate) sampled: AtomicU64,
    pub(crate) borrowed: AtomicU64,
}

/// Counters reported in SamplingBoostStatisticsDocuments.
#[derive(Default)]
pub(crate) struct BoostCounters {
    pub(crate) total: AtomicU64,
    pub(crate) anomalies: AtomicU64,
    pub(crate) sampled_anomalies: AtomicU64,
}

/// Everything about a rule that changes at run time. Shared (by `Arc`)
/// between successive rule sets while the rule keeps its name.
pub(crate) struct RuleState {
    /// Fixed-rate threshold (see [`rate_threshold`]).
    pub(crate) rate: AtomicU64,
    /// Requests per second from the last target, or [`NO_QUOTA`].
    pub(crate) quota: AtomicU64,
    /// The quota applies while `now <= quota_ttl` (epoch seconds, the
    /// target's `ReservoirQuotaTTL` rounded down, as the Python SDK does).
    pub(crate) quota_ttl: AtomicU64,
    /// Boosted threshold, used while `now < boost_until` when higher.
    pub(crate) boost_rate: AtomicU64,
    pub(crate) boost_until: AtomicU64,
    /// `ReservoirSize > 0`: the rule may borrow without a valid quota.
    pub(crate) can_borrow: AtomicBool,
    /// Seconds between statistics reports (the target's `Interval`).
    pub(crate) interval: AtomicU64,
    /// Epoch second from which the rule's statistics are due.
    pub(crate) next_report: AtomicU64,
    pub(crate) reservoir: Padded<PerSecond>,
    pub(crate) counters: Padded<Counters>,
    pub(crate) boost_counters: Padded<BoostCounters>,
}

impl RuleState {
    /// State for a rule before any target: no quota, borrowing if the
    /// reservoir size is positive, due for a report at once.
    pub(crate) fn new(fixed_rate: f64, can_borrow: bool) -> Self {
        RuleState {
            rate: AtomicU64::new(rate_threshold(fixed_rate)),
            quota: AtomicU64::new(NO_QUOTA),
            quota_ttl: AtomicU64::new(0),
            boost_rate: AtomicU64::new(0),
            boost_until: AtomicU64::new(0),
            can_borrow: AtomicBool::new(can_borrow),
            interval: AtomicU64::new(DEFAULT_INTERVAL),
            next_report: AtomicU64::new(0),
            reservoir: Padded::default(),
            counters: Padded::default(),
            boost_counters: Padded::default(),
        }
    }

    /// State for a local rule: a fixed number per second that never expires
    /// and no borrowing, as the SDK's local reservoir behaves.
    pub(crate) fn local(fixed_target: u64, rate: f64) -> Self {
        let state = RuleState::new(rate, false);
        state.quota.store(fixed_target.min(MAX_PER_SECOND), Relaxed);
        state.quota_ttl.store(u64::MAX, Relaxed);
        state
    }

    /// The threshold for the fixed-rate draw at `now`.
    #[inline]
    pub(crate) fn threshold(&self, now: u64) -> u64 {
        let rate = self.rate.load(Relaxed);
        if now < self.boost_until.load(Relaxed) {
            rate.max(self.boost_rate.load(Relaxed))
        } else {
            rate
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_second_take_and_borrow() {
        let r = PerSecond::default();
        assert!(r.take(100, 2));
        assert!(r.take(100, 2));
        assert!(!r.take(100, 2));
        // borrowing is counted apart from the quota
        assert!(r.borrow(100));
        assert!(!r.borrow(100));
        assert!(!r.take(100, 2));
        // a new second starts afresh
        assert!(r.take(101, 2));
        assert!(r.borrow(101));
        // a late decision for an older second gets nothing
        assert!(!r.take(100, 5));
        assert!(!r.borrow(100));
        assert!(r.take(101, 2));
        assert!(!r.take(101, 2));
        // second 0 works like any other (the word starts at second 0)
        let fresh = PerSecond::default();
        assert!(fresh.take(0, 1));
        assert!(!fresh.take(0, 1));
        assert!(!fresh.take(7, 0));
    }

    #[test]
    fn thresholds() {
        assert_eq!(rate_threshold(0.0), 0);
        assert_eq!(rate_threshold(-1.0), 0);
        assert_eq!(rate_threshold(f64::NAN), 0);
        assert_eq!(rate_threshold(1.0), 1 << 63);
        assert_eq!(rate_threshold(7.0), 1 << 63);
        assert_eq!(rate_threshold(0.5), 1 << 62);
        // every random value samples at rate 1, none at rate 0
        assert!((u64::MAX >> 1) < rate_threshold(1.0));
        assert_eq!(rate_threshold(0.0), 0);
    }

    #[test]
    fn boost_only_raises() {
        let s = RuleState::new(0.25, true);
        s.boost_rate.store(rate_threshold(0.5), Relaxed);
        s.boost_until.store(10, Relaxed);
        assert_eq!(s.threshold(9), rate_threshold(0.5));
        assert_eq!(s.threshold(10), rate_threshold(0.25));
        s.boost_rate.store(rate_threshold(0.1), Relaxed);
        assert_eq!(s.threshold(5), rate_threshold(0.25));
    }
}
