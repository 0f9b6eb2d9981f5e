//! X-Ray trace and span ids.
//!
//! An X-Ray trace id is 4 bytes of big-endian epoch seconds followed by 12
//! random bytes; X-Ray rejects traces whose timestamp is too old or in the
//! future. Span ids are 8 random bytes, never zero.
//!
//! Ids come from a per-thread xorshift generator and the coarse clock of
//! [`clock`](crate::clock): no lock, no allocation and no clock read per id.

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::SystemTime;

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::trace::IdGenerator;

/// Generates X-Ray compatible ids for the OpenTelemetry SDK.
///
/// ```
/// use opentelemetry_sdk::trace::IdGenerator;
/// use xray_runtime::XrayIdGenerator;
///
/// let id = XrayIdGenerator::default().new_trace_id();
/// let secs = u32::from_be_bytes(id.to_bytes()[..4].try_into().unwrap());
/// let now = std::time::SystemTime::now()
///     .duration_since(std::time::UNIX_EPOCH)
///     .unwrap()
///     .as_secs() as u32;
/// assert!(now - secs < 5);
/// ```
#[derive(Clone, Debug, Default)]
pub struct XrayIdGenerator {
    _private: (),
}

impl IdGenerator for XrayIdGenerator {
    fn new_trace_id(&self) -> TraceId {
        new_trace_id_at(crate::clock::epoch_seconds())
    }

    fn new_span_id(&self) -> SpanId {
        new_span_id()
    }
}

/// A trace id for the given epoch seconds with 96 random bits.
pub(crate) fn new_trace_id_at(secs: u32) -> TraceId {
    RNG.with(|state| {
        let mut rng = state.get();
        let id = trace_id_at(secs, &mut rng);
        state.set(rng);
        TraceId::from(id)
    })
}

/// A random, non-zero span id.
pub(crate) fn new_span_id() -> SpanId {
    RNG.with(|state| {
        let mut rng = state.get();
        let id = rng.span_id();
        state.set(rng);
        SpanId::from(id)
    })
}

/// The 128 bits of a trace id: epoch seconds, then 96 random bits.
#[inline]
pub(crate) fn trace_id_at(secs: u32, rng: &mut Rng) -> u128 {
    let random = (u128::from(rng.next_u64()) << 32) | u128::from(rng.next_u64() as u32);
    (u128::from(secs) << 96) | random
}

thread_local! {
    /// For ids made outside the span stack (the SDK's spans).
    static RNG: Cell<Rng> = const { Cell::new(Rng::new()) };
}

/// How many times this process was forked from: a generator seeded before
/// the latest fork seeds itself again, so a child's ids differ from its
/// parent's.
static FORKS: AtomicU32 = AtomicU32::new(0);

/// Called in the child after `fork()`.
pub(crate) fn note_fork() {
    FORKS.fetch_add(1, Ordering::Relaxed);
}

/// A per-thread random generator (wyrand: one multiply per output), seeded
/// on first use. Not cryptographic: ids need to be unique, not secret.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Rng {
    state: u64,
    /// [`FORKS`] when it was seeded.
    forks: u32,
}

impl Rng {
    /// A generator that seeds itself on first use.
    pub(crate) const fn new() -> Self {
        Self { state: 0, forks: 0 }
    }

    #[inline]
    pub(crate) fn next_u64(&mut self) -> u64 {
        let forks = FORKS.load(Ordering::Relaxed);
        if self.state == 0 || self.forks != forks {
            self.state = seed();
            self.forks = forks;
        }
        self.state = self.state.wrapping_add(0xa076_1d64_78bd_642f);
        let t = u128::from(self.state) * u128::from(self.state ^ 0xe703_7ed1_a0b4_28db);
        ((t >> 64) as u64) ^ (t as u64)
    }

    /// A random, non-zero span id.
    #[inline]
    pub(crate) fn span_id(&mut self) -> u64 {
        loop {
            let id = self.next_u64();
            if id != 0 {
                return id;
            }
        }
    }
}

/// Seeds each thread differently: the std hasher's per-process random keys
/// mixed with the thread's id, the process id and the clock (a forked child
/// has its parent's keys, but not its pid or its time).
#[cold]
fn seed() -> u64 {
    use std::hash::{BuildHasher, Hash, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    std::thread::current().id().hash(&mut hasher);
    std::process::id().hash(&mut hasher);
    SystemTime::now().hash(&mut hasher);
    hasher.finish() | 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn trace_id_starts_with_epoch_seconds() {
        let now = crate::clock::epoch_seconds();
        let id = XrayIdGenerator::default().new_trace_id();
        let bytes = id.to_bytes();
        let secs = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        assert!(secs.abs_diff(now) <= 1, "{secs} vs {now}");
        assert_ne!(&bytes[4..], &[0u8; 12]);
    }

    #[test]
    fn ids_are_unique_and_span_ids_non_zero() {
        let generator = XrayIdGenerator::default();
        let spans: HashSet<_> = (0..100_000).map(|_| generator.new_span_id()).collect();
        assert_eq!(spans.len(), 100_000);
        assert!(!spans.contains(&SpanId::INVALID));
        let traces: HashSet<_> = (0..100_000).map(|_| generator.new_trace_id()).collect();
        assert_eq!(traces.len(), 100_000);
    }

    #[test]
    fn a_fork_reseeds_the_generator() {
        let mut rng = Rng::new();
        rng.next_u64();
        let (mut a, mut b) = (rng, rng);
        assert_eq!(a.next_u64(), b.next_u64(), "copies repeat each other");
        let predicted = b.next_u64();
        // A child process holds a copy of its parent's generator.
        note_fork();
        assert_ne!(
            a.next_u64(),
            predicted,
            "after a fork, it seeds itself again"
        );
    }

    #[test]
    fn threads_get_different_sequences() {
        let a = std::thread::spawn(new_span_id).join().unwrap();
        let b = std::thread::spawn(new_span_id).join().unwrap();
        assert_ne!(a, b);
    }
}
