//! Cheap timestamps for spans, converted to wall-clock time off the hot path.
//!
//! A span reads the clock twice, so the read must be cheap. On x86_64 with an
//! invariant TSC (the `constant_tsc` and `nonstop_tsc` CPU flags) a tick is
//! one `rdtsc`; elsewhere it is nanoseconds of [`Instant`] since the anchor.
//! The export thread converts ticks to [`SystemTime`] with the rate it
//! measures between the anchor and now, so no calibration delay is paid at
//! start-up and the estimate only improves with time.
//!
//! X-Ray trace ids need whole epoch seconds, nothing finer: those come from an
//! atomic the export thread refreshes, so making an id reads no clock at all.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Whether ticks are TSC readings (decided once, at the first anchor).
static USE_TSC: AtomicBool = AtomicBool::new(false);
/// Epoch seconds, refreshed by the export thread; 0 until the first refresh.
static EPOCH_SECONDS: AtomicU32 = AtomicU32::new(0);
/// The process-wide anchor: the same instant in every clock.
static ANCHOR: OnceLock<Anchor> = OnceLock::new();

#[derive(Clone, Copy, Debug)]
struct Anchor {
    ticks: u64,
    instant: Instant,
    wall: SystemTime,
}

/// Sets the anchor (once per process) and refreshes the coarse clock.
pub(crate) fn init() {
    ANCHOR.get_or_init(|| {
        USE_TSC.store(tsc_is_invariant(), Ordering::Relaxed);
        Anchor {
            ticks: raw_ticks(),
            instant: Instant::now(),
            wall: SystemTime::now(),
        }
    });
    refresh_epoch_seconds();
}

/// A timestamp for a span boundary.
#[inline(always)]
pub(crate) fn ticks() -> u64 {
    #[cfg(target_arch = "x86_64")]
    if USE_TSC.load(Ordering::Relaxed) {
        // SAFETY: `rdtsc` has no preconditions on x86_64.
        return unsafe { core::arch::x86_64::_rdtsc() };
    }
    instant_ticks()
}

fn raw_ticks() -> u64 {
    #[cfg(target_arch = "x86_64")]
    if USE_TSC.load(Ordering::Relaxed) {
        // SAFETY: as above.
        return unsafe { core::arch::x86_64::_rdtsc() };
    }
    0
}

#[cold]
fn instant_ticks() -> u64 {
    match ANCHOR.get() {
        Some(anchor) => anchor.instant.elapsed().as_nanos() as u64,
        None => 0,
    }
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn tsc_is_invariant() -> bool {
    std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|info| {
        info.lines()
            .find(|l| l.starts_with("flags"))
            .is_some_and(|flags| {
                let has = |flag: &str| flags.split_whitespace().any(|f| f == flag);
                has("constant_tsc") && has("nonstop_tsc")
            })
    })
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn tsc_is_invariant() -> bool {
    false
}

/// Converts ticks to wall-clock time; made on the export thread.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Converter {
    anchor: Anchor,
    nanos_per_tick: f64,
}

impl Converter {
    /// A converter using the tick rate measured from the anchor until now.
    pub(crate) fn now() -> Self {
        init();
        let anchor = *ANCHOR.get().unwrap_or(&Anchor {
            ticks: 0,
            instant: Instant::now(),
            wall: SystemTime::now(),
        });
        let nanos_per_tick = if USE_TSC.load(Ordering::Relaxed) {
            let ticks = raw_ticks().saturating_sub(anchor.ticks);
            let nanos = anchor.instant.elapsed().as_nanos() as f64;
            if ticks > 1_000_000 {
                nanos / ticks as f64
            } else {
                tsc_nanos_per_tick_guess(anchor)
            }
        } else {
            1.0
        };
        Self {
            anchor,
            nanos_per_tick,
        }
    }

    /// The wall-clock time of a tick.
    pub(crate) fn wall(&self, ticks: u64) -> SystemTime {
        let since = if USE_TSC.load(Ordering::Relaxed) {
            ticks.wrapping_sub(self.anchor.ticks) as i64
        } else {
            ticks as i64
        };
        let nanos = since as f64 * self.nanos_per_tick;
        if nanos >= 0.0 {
            self.anchor.wall + Duration::from_nanos(nanos as u64)
        } else {
            self.anchor.wall - Duration::from_nanos((-nanos) as u64)
        }
    }
}

/// Right after start-up too few ticks have passed to measure the rate well:
/// spin briefly (once) to get a first estimate.
#[cold]
fn tsc_nanos_per_tick_guess(anchor: Anchor) -> f64 {
    static GUESS: OnceLock<f64> = OnceLock::new();
    *GUESS.get_or_init(|| {
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(2) {
            std::hint::spin_loop();
        }
        let ticks = raw_ticks().saturating_sub(anchor.ticks).max(1);
        anchor.instant.elapsed().as_nanos() as f64 / ticks as f64
    })
}

/// Reads the wall clock into the coarse seconds used by trace ids.
pub(crate) fn refresh_epoch_seconds() {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32);
    EPOCH_SECONDS.store(secs, Ordering::Relaxed);
}

/// Epoch seconds for a new trace id: the refreshed value when there is one.
#[inline]
pub(crate) fn epoch_seconds() -> u32 {
    match EPOCH_SECONDS.load(Ordering::Relaxed) {
        0 => {
            refresh_epoch_seconds();
            EPOCH_SECONDS.load(Ordering::Relaxed)
        }
        secs => secs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_convert_to_the_wall_clock() {
        init();
        let before = SystemTime::now();
        let start = ticks();
        std::thread::sleep(Duration::from_millis(20));
        let end = ticks();
        let after = SystemTime::now();
        let converter = Converter::now();
        let (a, b) = (converter.wall(start), converter.wall(end));
        let slack = Duration::from_millis(2);
        assert!(
            a + slack >= before && b <= after + slack,
            "{a:?} {b:?} within {before:?} {after:?}"
        );
        let measured = b.duration_since(a).unwrap();
        assert!(
            measured >= Duration::from_millis(19) && measured < Duration::from_millis(40),
            "{measured:?}"
        );
    }

    #[test]
    fn epoch_seconds_are_current() {
        refresh_epoch_seconds();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as u32;
        assert!(epoch_seconds().abs_diff(now) <= 1);
    }
}
