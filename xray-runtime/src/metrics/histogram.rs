//! One histogram series: durations counted into the semantic conventions'
//! buckets with a few relaxed atomic adds (no lock, no allocation), and the
//! latest exemplar of each bucket. Durations are clock ticks; the export
//! thread converts them to seconds, and keeps the bucket boundaries in
//! ticks up to date as the tick rate is measured.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use opentelemetry::KeyValue;

use crate::clock::Converter;

/// The bucket boundaries, in seconds: the semantic conventions' advice for
/// `http.server.request.duration` and `http.client.request.duration`, used
/// for every duration histogram here.
pub(crate) const BOUNDARIES: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];
/// The buckets: one per boundary, and the one above the last.
pub(crate) const BUCKETS: usize = BOUNDARIES.len() + 1;

/// The boundaries in clock ticks, as the measured tick rate puts them.
static BOUNDS_IN_TICKS: [AtomicU64; BOUNDARIES.len()] =
    [const { AtomicU64::new(u64::MAX) }; BOUNDARIES.len()];

/// Which measurements keep an exemplar (`OTEL_METRICS_EXEMPLAR_FILTER`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum ExemplarFilter {
    /// Measurements made inside a sampled trace (the specification's default).
    #[default]
    TraceBased,
    /// Every measurement made inside a span, sampled or not.
    AlwaysOn,
    /// None.
    AlwaysOff,
}

static FILTER: AtomicU8 = AtomicU8::new(0);

impl ExemplarFilter {
    fn code(self) -> u8 {
        match self {
            Self::TraceBased => 0,
            Self::AlwaysOn => 1,
            Self::AlwaysOff => 2,
        }
    }
}

/// Sets the exemplar filter.
pub(crate) fn set_exemplar_filter(filter: ExemplarFilter) {
    FILTER.store(filter.code(), Ordering::Relaxed);
}

/// Puts the bucket boundaries in ticks at the rate `converter` measured.
pub(crate) fn update_bounds(converter: &Converter) {
    for (bound, seconds) in BOUNDS_IN_TICKS.iter().zip(BOUNDARIES) {
        bound.store(converter.ticks_in(seconds).max(1), Ordering::Relaxed);
    }
}

/// The bucket of a duration: the first whose boundary it does not exceed.
#[inline]
fn bucket_of(ticks: u64) -> usize {
    BOUNDS_IN_TICKS
        .iter()
        .position(|bound| ticks <= bound.load(Ordering::Relaxed))
        .unwrap_or(BOUNDARIES.len())
}

/// The span a measurement was made in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Context {
    pub trace_id: u128,
    pub span_id: u64,
    /// Sampled (exported), not merely recorded.
    pub sampled: bool,
}

impl Context {
    /// Whether a measurement in this span keeps an exemplar.
    #[inline]
    fn keeps_exemplar(self) -> bool {
        match FILTER.load(Ordering::Relaxed) {
            0 => self.sampled,
            1 => true,
            _ => false,
        }
    }
}

/// A measurement kept as an example of its bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RawExemplar {
    /// When it ended, in ticks.
    pub at: u64,
    /// How long it took, in ticks.
    pub ticks: u64,
    pub trace_id: u128,
    pub span_id: u64,
}

/// One series: the durations recorded with one set of attributes.
#[derive(Debug)]
pub(crate) struct Series {
    pub attributes: Vec<KeyValue>,
    counts: [AtomicU64; BUCKETS],
    sum: AtomicU64,
    min: AtomicU64,
    max: AtomicU64,
    exemplars: Mutex<[Option<RawExemplar>; BUCKETS]>,
}

/// What a series recorded between two collections, in ticks.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Recorded {
    pub counts: [u64; BUCKETS],
    pub sum: u64,
    /// `None` when nothing was recorded.
    pub min: Option<u64>,
    pub max: Option<u64>,
    pub exemplars: Vec<RawExemplar>,
}

impl Recorded {
    pub(crate) fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Adds `later` to this total (cumulative temporality).
    pub(crate) fn add(&mut self, later: &Recorded) {
        for (count, more) in self.counts.iter_mut().zip(later.counts) {
            *count += more;
        }
        self.sum += later.sum;
        self.min = match (self.min, later.min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max = self.max.max(later.max);
        self.exemplars = later.exemplars.clone();
    }
}

impl Series {
    pub(crate) fn new(attributes: Vec<KeyValue>) -> Self {
        Self {
            attributes,
            counts: [const { AtomicU64::new(0) }; BUCKETS],
            sum: AtomicU64::new(0),
            min: AtomicU64::new(u64::MAX),
            max: AtomicU64::new(0),
            exemplars: Mutex::new([None; BUCKETS]),
        }
    }

    /// Records a duration of `ticks` that ended at `end`, made in `span`.
    #[inline]
    pub(crate) fn record(&self, ticks: u64, end: u64, span: Option<Context>) {
        let bucket = bucket_of(ticks);
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(ticks, Ordering::Relaxed);
        self.min.fetch_min(ticks, Ordering::Relaxed);
        self.max.fetch_max(ticks, Ordering::Relaxed);
        if let Some(span) = span.filter(|span| span.keeps_exemplar())
            // Another thread is there: that one's example will do.
            && let Ok(mut slots) = self.exemplars.try_lock()
        {
            slots[bucket] = Some(RawExemplar {
                at: end,
                ticks,
                trace_id: span.trace_id,
                span_id: span.span_id,
            });
        }
    }

    /// Takes what was recorded since the last call (each measurement is
    /// taken exactly once, whatever threads record meanwhile).
    pub(crate) fn take(&self) -> Recorded {
        let mut recorded = Recorded::default();
        for (count, taken) in self.counts.iter().zip(recorded.counts.iter_mut()) {
            *taken = count.swap(0, Ordering::Relaxed);
        }
        recorded.sum = self.sum.swap(0, Ordering::Relaxed);
        let (min, max) = (
            self.min.swap(u64::MAX, Ordering::Relaxed),
            self.max.swap(0, Ordering::Relaxed),
        );
        if recorded.count() > 0 {
            recorded.min = Some(min.min(max));
            recorded.max = Some(max.max(min));
        }
        let mut slots = self.exemplars.lock().unwrap_or_else(|e| e.into_inner());
        recorded.exemplars = slots.iter_mut().filter_map(Option::take).collect();
        recorded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_fall_into_their_buckets_and_are_taken_once() {
        let converter = Converter::now();
        update_bounds(&converter);
        let ticks = |seconds: f64| converter.ticks_in(seconds);
        let series = Series::new(vec![KeyValue::new("k", "v")]);
        let sampled = Context {
            trace_id: 7,
            span_id: 9,
            sampled: true,
        };
        series.record(ticks(0.001), 100, Some(sampled));
        series.record(ticks(0.002), 101, None);
        series.record(
            ticks(0.007),
            102,
            Some(Context {
                sampled: false,
                ..sampled
            }),
        );
        series.record(ticks(60.0), 103, Some(sampled));
        let taken = series.take();
        assert_eq!(taken.counts[0], 2, "up to 5 ms");
        assert_eq!(taken.counts[1], 1, "5 to 10 ms");
        assert_eq!(taken.counts[BUCKETS - 1], 1, "above the last boundary");
        assert_eq!(taken.count(), 4);
        assert_eq!(
            taken.sum,
            ticks(0.001) + ticks(0.002) + ticks(0.007) + ticks(60.0)
        );
        assert_eq!(
            (taken.min, taken.max),
            (Some(ticks(0.001)), Some(ticks(60.0)))
        );
        // Sampled spans only (the default filter): the first and the last bucket.
        let at: Vec<u64> = taken.exemplars.iter().map(|e| e.at).collect();
        assert_eq!(at, [100, 103]);
        let again = series.take();
        assert_eq!(again.count(), 0);
        assert_eq!((again.min, again.max), (None, None));
        assert!(again.exemplars.is_empty());
    }

    #[test]
    fn cumulative_totals_add_up() {
        let mut total = Recorded::default();
        let mut first = Recorded {
            sum: 10,
            min: Some(4),
            max: Some(6),
            ..Recorded::default()
        };
        first.counts[0] = 2;
        total.add(&first);
        total.add(&Recorded::default());
        assert_eq!((total.count(), total.min, total.max), (2, Some(4), Some(6)));
        let mut second = Recorded {
            sum: 1,
            min: Some(1),
            max: Some(1),
            ..Recorded::default()
        };
        second.counts[0] = 1;
        total.add(&second);
        assert_eq!(
            (total.count(), total.sum, total.min, total.max),
            (3, 11, Some(1), Some(6))
        );
    }
}
