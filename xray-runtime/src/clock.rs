//! Cheap timestamps for spans, converted to wall-clock time off the hot path.
//!
//! A span reads the clock twice, so the read must be cheap. A tick is:
//! * on x86_64, one `rdtsc`, when the TSC is invariant (the `constant_tsc`
//!   and `nonstop_tsc` CPU flags) and the kernel itself keeps time with it
//!   (its clocksource is `tsc`: it did not find the TSC unreliable);
//! * on aarch64 (Graviton, most of Lambda), one read of the virtual counter
//!   (`CNTVCT_EL0`), whose frequency the CPU states (`CNTFRQ_EL0`);
//! * elsewhere, or when `XRAY_CLOCK=monotonic` asks for it, nanoseconds of
//!   the monotonic clock since start-up.
//!
//! The export thread converts ticks to wall-clock time: a tick rate measured
//! against the monotonic clock (immune to wall-clock steps), and a wall-clock
//! anchor that [`refresh`] moves whenever the wall clock and the converted
//! ticks drift more than a millisecond apart (an NTP step, `date -s`, a VM
//! restored from a snapshot), so spans keep the wall clock's time.
//!
//! X-Ray trace ids need whole epoch seconds, nothing finer: those come from
//! an atomic that [`refresh`] updates, so making an id reads no clock.

use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Where ticks come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// The x86_64 time-stamp counter.
    Tsc,
    /// The aarch64 virtual counter.
    ArmCounter,
    /// Nanoseconds of the monotonic clock.
    Monotonic,
}

/// Which source to use, as configured (`XRAY_CLOCK`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum ClockChoice {
    /// The CPU's counter when it is reliable, else the monotonic clock.
    #[default]
    Auto,
    /// The monotonic clock, always.
    Monotonic,
}

const SOURCE_UNSET: u8 = 0;
const SOURCE_TSC: u8 = 1;
const SOURCE_ARM: u8 = 2;
const SOURCE_MONOTONIC: u8 = 3;

/// The source of ticks, decided once.
static SOURCE: AtomicU8 = AtomicU8::new(SOURCE_UNSET);
/// Epoch seconds, updated by [`refresh`]; 0 until the first.
static EPOCH_SECONDS: AtomicU32 = AtomicU32::new(0);
/// The same instant in ticks and in the monotonic clock, fixed for the
/// life of the process: ticks count from it, and the tick rate is measured
/// against it.
static BASE: OnceLock<Base> = OnceLock::new();
/// The same instant in ticks and in the wall clock; moved when they drift.
static WALL: Mutex<WallAnchor> = Mutex::new(WallAnchor {
    ticks: 0,
    unix_nanos: 0,
});

/// How far the converted ticks may drift from the wall clock before the
/// anchor moves.
const MAX_DRIFT_NANOS: i128 = 1_000_000;
/// Ticks to measure before the rate is trusted.
const MIN_RATE_TICKS: u64 = 1_000_000;

#[derive(Clone, Copy, Debug)]
struct Base {
    source: Source,
    ticks: u64,
    instant: Instant,
    /// Known nanoseconds per tick (the ARM counter states its frequency;
    /// monotonic ticks are nanoseconds); measured for the TSC.
    nanos_per_tick: Option<f64>,
}

#[derive(Clone, Copy, Debug)]
struct WallAnchor {
    ticks: u64,
    unix_nanos: i128,
}

/// Decides the source (once per process), and anchors the wall clock.
pub(crate) fn init(choice: ClockChoice) {
    BASE.get_or_init(|| {
        let source = match choice {
            ClockChoice::Monotonic => Source::Monotonic,
            ClockChoice::Auto => detect(),
        };
        SOURCE.store(
            match source {
                Source::Tsc => SOURCE_TSC,
                Source::ArmCounter => SOURCE_ARM,
                Source::Monotonic => SOURCE_MONOTONIC,
            },
            Ordering::Relaxed,
        );
        let instant = Instant::now();
        let base = Base {
            source,
            ticks: raw_ticks(source, None),
            instant,
            nanos_per_tick: match source {
                Source::Tsc => None,
                Source::ArmCounter => arm_frequency().map(|hz| 1e9 / hz as f64),
                Source::Monotonic => Some(1.0),
            },
        };
        *WALL.lock().unwrap_or_else(|e| e.into_inner()) = WallAnchor {
            ticks: base.ticks,
            unix_nanos: unix_nanos_now(),
        };
        base
    });
    refresh_epoch_seconds();
}

/// A timestamp for a span boundary.
#[inline(always)]
pub(crate) fn ticks() -> u64 {
    match SOURCE.load(Ordering::Relaxed) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `rdtsc` has no preconditions on x86_64.
        SOURCE_TSC => unsafe { core::arch::x86_64::_rdtsc() },
        #[cfg(target_arch = "aarch64")]
        SOURCE_ARM => arm_counter(),
        _ => monotonic_ticks(),
    }
}

fn raw_ticks(source: Source, base: Option<&Base>) -> u64 {
    match source {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Source::Tsc => unsafe { core::arch::x86_64::_rdtsc() },
        #[cfg(target_arch = "aarch64")]
        Source::ArmCounter => arm_counter(),
        _ => base.map_or(0, |base| base.instant.elapsed().as_nanos() as u64),
    }
}

#[cold]
fn monotonic_ticks() -> u64 {
    BASE.get()
        .map_or(0, |base| base.instant.elapsed().as_nanos() as u64)
}

#[cfg(target_arch = "aarch64")]
#[inline(always)]
fn arm_counter() -> u64 {
    let value: u64;
    // SAFETY: Linux lets user space read the virtual counter (its vDSO
    // does); the read has no side effect.
    unsafe {
        core::arch::asm!("mrs {}, cntvct_el0", out(reg) value, options(nomem, nostack, preserves_flags));
    }
    value
}

#[cfg(target_arch = "aarch64")]
fn arm_frequency() -> Option<u64> {
    let value: u64;
    // SAFETY: as above, for the counter's stated frequency.
    unsafe {
        core::arch::asm!("mrs {}, cntfrq_el0", out(reg) value, options(nomem, nostack, preserves_flags));
    }
    (value > 0).then_some(value)
}

#[cfg(not(target_arch = "aarch64"))]
fn arm_frequency() -> Option<u64> {
    None
}

/// The best source this machine offers.
fn detect() -> Source {
    if cfg!(target_arch = "aarch64") && arm_frequency().is_some() {
        return Source::ArmCounter;
    }
    if cfg!(target_arch = "x86_64") && tsc_is_reliable() {
        return Source::Tsc;
    }
    Source::Monotonic
}

/// The TSC is invariant and the kernel keeps time with it.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn tsc_is_reliable() -> bool {
    let flags = std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|info| {
        info.lines()
            .find(|l| l.starts_with("flags"))
            .is_some_and(|flags| {
                let has = |flag: &str| flags.split_whitespace().any(|f| f == flag);
                has("constant_tsc") && has("nonstop_tsc")
            })
    });
    let kernel =
        std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
            .is_ok_and(|source| source.trim() == "tsc");
    flags && kernel
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn tsc_is_reliable() -> bool {
    false
}

fn unix_nanos_now() -> i128 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => since.as_nanos() as i128,
        Err(before) => -(before.duration().as_nanos() as i128),
    }
}

/// Converts ticks to wall-clock time; made on the export thread.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Converter {
    anchor: WallAnchor,
    nanos_per_tick: f64,
}

impl Converter {
    /// A converter with the current anchor and the tick rate measured so far.
    pub(crate) fn now() -> Self {
        let Some(base) = BASE.get() else {
            init(ClockChoice::Auto);
            return Self::now();
        };
        Self {
            anchor: *WALL.lock().unwrap_or_else(|e| e.into_inner()),
            nanos_per_tick: nanos_per_tick(base),
        }
    }

    /// Nanoseconds since the Unix epoch at `ticks` (0 before it).
    pub(crate) fn unix_nanos(&self, ticks: u64) -> u64 {
        self.signed_unix_nanos(ticks).clamp(0, u64::MAX as i128) as u64
    }

    fn signed_unix_nanos(&self, ticks: u64) -> i128 {
        let since = ticks.wrapping_sub(self.anchor.ticks) as i64;
        // Through `i64` (saturating, ±292 years): a float to `i128` is a
        // library call, and this runs twice per exported span.
        self.anchor.unix_nanos + i128::from((since as f64 * self.nanos_per_tick) as i64)
    }

    /// The wall-clock time of `ticks`.
    pub(crate) fn wall(&self, ticks: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.unix_nanos(ticks))
    }

    /// How many seconds `ticks` ticks last.
    pub(crate) fn seconds(&self, ticks: u64) -> f64 {
        ticks as f64 * self.nanos_per_tick / 1e9
    }

    /// How many ticks `seconds` seconds last.
    pub(crate) fn ticks_in(&self, seconds: f64) -> u64 {
        (seconds * 1e9 / self.nanos_per_tick) as u64
    }
}

/// Nanoseconds per tick: stated by the source, or measured against the
/// monotonic clock since start-up.
fn nanos_per_tick(base: &Base) -> f64 {
    if let Some(known) = base.nanos_per_tick {
        return known;
    }
    let ticks = raw_ticks(base.source, Some(base)).saturating_sub(base.ticks);
    if ticks > MIN_RATE_TICKS {
        base.instant.elapsed().as_nanos() as f64 / ticks as f64
    } else {
        first_rate_guess(base)
    }
}

/// Right after start-up too few ticks have passed to measure the rate well:
/// spin briefly (once) to get a first estimate.
#[cold]
fn first_rate_guess(base: &Base) -> f64 {
    static GUESS: OnceLock<f64> = OnceLock::new();
    *GUESS.get_or_init(|| {
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(2) {
            std::hint::spin_loop();
        }
        let ticks = raw_ticks(base.source, Some(base))
            .saturating_sub(base.ticks)
            .max(1);
        base.instant.elapsed().as_nanos() as f64 / ticks as f64
    })
}

/// The export thread's periodic check: updates the seconds of trace ids,
/// and moves the wall-clock anchor when ticks and wall clock drifted apart.
pub(crate) fn refresh() {
    refresh_epoch_seconds();
    if BASE.get().is_none() {
        return;
    }
    let converter = Converter::now();
    let now_ticks = ticks();
    let now = unix_nanos_now();
    if let Some(anchor) = reanchored(&converter, now_ticks, now) {
        *WALL.lock().unwrap_or_else(|e| e.into_inner()) = anchor;
    }
}

/// A new anchor when `converter` puts `ticks` more than [`MAX_DRIFT_NANOS`]
/// away from the wall clock's `unix_nanos`.
fn reanchored(converter: &Converter, ticks: u64, unix_nanos: i128) -> Option<WallAnchor> {
    let drift = converter.signed_unix_nanos(ticks) - unix_nanos;
    (drift.abs() > MAX_DRIFT_NANOS).then_some(WallAnchor { ticks, unix_nanos })
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
        init(ClockChoice::Auto);
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
    fn a_wall_clock_step_moves_the_anchor() {
        // One tick per nanosecond, anchored at tick 1000 = 5 s past the epoch.
        let converter = Converter {
            anchor: WallAnchor {
                ticks: 1_000,
                unix_nanos: 5_000_000_000,
            },
            nanos_per_tick: 1.0,
        };
        assert_eq!(converter.unix_nanos(2_000), 5_000_001_000);
        // Within a millisecond: the anchor stays.
        assert!(reanchored(&converter, 2_000, 5_000_500_000).is_none());
        // The wall clock stepped 5 s ahead: spans follow it from now on.
        let anchor = reanchored(&converter, 2_000, 10_000_001_000).expect("re-anchored");
        let stepped = Converter {
            anchor,
            ..converter
        };
        assert_eq!(stepped.unix_nanos(3_000), 10_000_002_000);
        // And back.
        assert!(reanchored(&stepped, 4_000, 5_000_003_000).is_some());
    }

    #[test]
    fn the_monotonic_source_keeps_nanoseconds() {
        let base = Base {
            source: Source::Monotonic,
            ticks: 0,
            instant: Instant::now(),
            nanos_per_tick: Some(1.0),
        };
        std::thread::sleep(Duration::from_millis(5));
        let ticks = raw_ticks(Source::Monotonic, Some(&base));
        assert!(ticks >= 5_000_000, "{ticks}");
        assert_eq!(nanos_per_tick(&base), 1.0);
    }

    #[test]
    fn times_before_the_epoch_are_clamped() {
        let converter = Converter {
            anchor: WallAnchor {
                ticks: 1_000,
                unix_nanos: 10,
            },
            nanos_per_tick: 1.0,
        };
        assert_eq!(converter.unix_nanos(0), 0);
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
