//! What the log and metric pipelines count: items exported, and items
//! lost, by why. Like the spans' counters, they are process-wide and only
//! grow.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// The counters of one signal.
pub(crate) struct Counters {
    exported: AtomicU64,
    queue_full: AtomicU64,
    export_failed: AtomicU64,
}

impl Counters {
    pub(crate) const fn new() -> Self {
        Self {
            exported: AtomicU64::new(0),
            queue_full: AtomicU64::new(0),
            export_failed: AtomicU64::new(0),
        }
    }

    /// Counts `items` delivered.
    pub(crate) fn exported(&self, items: u64) {
        self.exported.fetch_add(items, Ordering::Relaxed);
    }

    /// Counts `items` dropped because the queue was full.
    pub(crate) fn queue_full(&self, items: u64) {
        self.queue_full.fetch_add(items, Ordering::Relaxed);
    }

    /// Counts `items` an exporter lost.
    pub(crate) fn export_failed(&self, items: u64) {
        self.export_failed.fetch_add(items, Ordering::Relaxed);
    }

    pub(crate) fn read(&self) -> SignalStats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        SignalStats {
            exported: read(&self.exported),
            queue_full: read(&self.queue_full),
            export_failed: read(&self.export_failed),
        }
    }
}

/// What a log or metric pipeline counted since the process started: log
/// records for [`logs::stats`](crate::logs::stats), metric data points for
/// [`metrics::stats`](crate::metrics::stats).
///
/// ```
/// let before = xray_runtime::logs::stats();
/// // ... logging, then a flush ...
/// let lost = xray_runtime::logs::stats().since(&before).lost();
/// assert_eq!(lost, 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignalStats {
    /// Items handed to the exporters and accepted by them (counted once
    /// per exporter).
    pub exported: u64,
    /// Items dropped because the export queue was full.
    pub queue_full: u64,
    /// Items an exporter lost: it failed, timed out or panicked, or the
    /// receiver rejected them (counted once per exporter).
    pub export_failed: u64,
}

impl SignalStats {
    /// Every item lost, whatever the reason.
    pub fn lost(&self) -> u64 {
        self.queue_full + self.export_failed
    }

    /// What was counted between `earlier` and `self`.
    pub fn since(&self, earlier: &SignalStats) -> SignalStats {
        SignalStats {
            exported: self.exported.saturating_sub(earlier.exported),
            queue_full: self.queue_full.saturating_sub(earlier.queue_full),
            export_failed: self.export_failed.saturating_sub(earlier.export_failed),
        }
    }
}

impl fmt::Display for SignalStats {
    /// `120 exported, 5 lost (3 export queue full, 2 export failed)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} exported, {} lost", self.exported, self.lost())?;
        match (self.queue_full, self.export_failed) {
            (0, 0) => Ok(()),
            (full, 0) => write!(f, " ({full} export queue full)"),
            (0, failed) => write!(f, " ({failed} export failed)"),
            (full, failed) => write!(f, " ({full} export queue full, {failed} export failed)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn losses_are_told_by_reason() {
        let counters = Counters::new();
        counters.exported(120);
        counters.queue_full(3);
        counters.export_failed(2);
        let stats = counters.read();
        assert_eq!(stats.lost(), 5);
        assert_eq!(
            stats.to_string(),
            "120 exported, 5 lost (3 export queue full, 2 export failed)"
        );
        assert_eq!(SignalStats::default().to_string(), "0 exported, 0 lost");
        counters.export_failed(1);
        assert_eq!(counters.read().since(&stats).lost(), 1);
    }
}
