//! X-Ray trace and span ids.
//!
//! An X-Ray trace id is 4 bytes of big-endian epoch seconds followed by 12
//! random bytes; X-Ray rejects traces whose timestamp is too old or in the
//! future. Span ids are 8 random bytes, never zero.
//!
//! Ids come from a per-thread xorshift generator: no lock, no allocation and
//! no system call per id.

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

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
        if let Some(hint) = TRACE_ID_HINT.take() {
            return hint;
        }
        new_trace_id_at(epoch_seconds())
    }

    fn new_span_id(&self) -> SpanId {
        new_span_id()
    }
}

/// A trace id for the given epoch seconds with 96 random bits.
pub(crate) fn new_trace_id_at(secs: u32) -> TraceId {
    let random = (u128::from(next_u64()) << 32) | u128::from(next_u64() as u32);
    TraceId::from((u128::from(secs) << 96) | random)
}

/// A random, non-zero span id.
pub(crate) fn new_span_id() -> SpanId {
    loop {
        let id = next_u64();
        if id != 0 {
            return SpanId::from(id);
        }
    }
}

fn epoch_seconds() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32)
}

thread_local! {
    static RNG: Cell<u64> = Cell::new(seed());
    /// Set for the duration of one span start when an incoming header named a
    /// trace id without a parent span (a load balancer's first hop): the SDK
    /// then asks for a new trace id, and this one must be kept.
    static TRACE_ID_HINT: Cell<Option<TraceId>> = const { Cell::new(None) };
}

/// Runs `f` with `trace_id` as the next trace id handed to the SDK on this thread.
pub(crate) fn with_trace_id_hint<R>(trace_id: TraceId, f: impl FnOnce() -> R) -> R {
    TRACE_ID_HINT.set(Some(trace_id));
    let out = f();
    TRACE_ID_HINT.set(None);
    out
}

/// Seeds each thread differently: the std hasher's per-process random keys
/// mixed with the thread's id and the clock.
fn seed() -> u64 {
    use std::hash::{BuildHasher, Hash, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    std::thread::current().id().hash(&mut hasher);
    SystemTime::now().hash(&mut hasher);
    hasher.finish() | 1
}

/// xorshift64*: fast, full period over non-zero states, good enough for ids.
fn next_u64() -> u64 {
    RNG.with(|state| {
        let mut x = state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn trace_id_starts_with_epoch_seconds() {
        let now = epoch_seconds();
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
    fn threads_get_different_sequences() {
        let a = std::thread::spawn(new_span_id).join().unwrap();
        let b = std::thread::spawn(new_span_id).join().unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn hint_is_used_once() {
        let generator = XrayIdGenerator::default();
        let hinted = TraceId::from(0x5759e988_bd862e3f_e1be46a9_94272793_u128);
        let first = with_trace_id_hint(hinted, || generator.new_trace_id());
        assert_eq!(first, hinted);
        assert_ne!(generator.new_trace_id(), hinted);
    }
}
