//! What the export pipeline counts: every span exported, and every span
//! lost, by why. The counters are process-wide and only grow; [`stats`]
//! reads them, the guard's shutdown reports them, and a flush reports what
//! was lost since the previous one.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Why a span was lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Loss {
    /// The export queue was full, or its memory could not be allocated.
    QueueFull,
    /// An exporter failed, timed out, panicked, was too busy to take the
    /// batch, or the receiver rejected the spans.
    ExportFailed,
    /// Ended under an installation (`init`) that a newer one had replaced.
    Superseded,
    /// Ended after shutdown, or while its thread was exiting.
    EndedTooLate,
}

struct Counters {
    exported: AtomicU64,
    queue_full: AtomicU64,
    export_failed: AtomicU64,
    superseded: AtomicU64,
    ended_too_late: AtomicU64,
}

static COUNTERS: Counters = Counters {
    exported: AtomicU64::new(0),
    queue_full: AtomicU64::new(0),
    export_failed: AtomicU64::new(0),
    superseded: AtomicU64::new(0),
    ended_too_late: AtomicU64::new(0),
};

impl Loss {
    fn counter(self) -> &'static AtomicU64 {
        match self {
            Self::QueueFull => &COUNTERS.queue_full,
            Self::ExportFailed => &COUNTERS.export_failed,
            Self::Superseded => &COUNTERS.superseded,
            Self::EndedTooLate => &COUNTERS.ended_too_late,
        }
    }
}

/// Counts `spans` lost for `why`.
pub(crate) fn lose(why: Loss, spans: u64) {
    if spans > 0 {
        why.counter().fetch_add(spans, Ordering::Relaxed);
    }
}

/// How many sampled spans one thread started and ended, published by the
/// thread with plain stores (each thread writes only its own).
#[derive(Debug, Default)]
pub(crate) struct ThreadSpans {
    started: AtomicU64,
    ended: AtomicU64,
}

impl ThreadSpans {
    /// A thread's counts, registered for [`stats`].
    pub(crate) fn register() -> Arc<Self> {
        THREADS.register()
    }

    /// Publishes the thread's totals (only its own thread calls this).
    #[inline]
    pub(crate) fn publish(&self, started: u64, ended: u64) {
        self.started.store(started, Ordering::Relaxed);
        self.ended.store(ended, Ordering::Relaxed);
    }
}

/// Every thread's counts; those of exited threads folded into totals.
struct Threads(Mutex<ThreadTotals>);

struct ThreadTotals {
    live: Vec<Arc<ThreadSpans>>,
    started: u64,
    ended: u64,
}

static THREADS: Threads = Threads::new();

impl Threads {
    const fn new() -> Self {
        Self(Mutex::new(ThreadTotals {
            live: Vec::new(),
            started: 0,
            ended: 0,
        }))
    }

    fn register(&self) -> Arc<ThreadSpans> {
        let spans = Arc::new(ThreadSpans::default());
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .live
            .push(spans.clone());
        spans
    }

    /// Spans started and not yet ended, in every thread. A span may start
    /// on one thread and end on another, so only the sum is meaningful.
    fn open(&self) -> u64 {
        let mut totals = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (mut started, mut ended) = (0, 0);
        let mut retired = (0, 0);
        totals.live.retain(|spans| {
            let counts = (
                spans.started.load(Ordering::Relaxed),
                spans.ended.load(Ordering::Relaxed),
            );
            // Only this list holds it: the thread has exited.
            if Arc::strong_count(spans) == 1 {
                retired.0 += counts.0;
                retired.1 += counts.1;
                return false;
            }
            started += counts.0;
            ended += counts.1;
            true
        });
        totals.started += retired.0;
        totals.ended += retired.1;
        (started + totals.started).saturating_sub(ended + totals.ended)
    }
}

/// A sampled span ended on a thread whose counts are gone (it is exiting).
pub(crate) fn span_ended_without_thread() {
    THREADS.0.lock().unwrap_or_else(|e| e.into_inner()).ended += 1;
}

/// The threads' counts' lock, held across a `fork()`.
pub(crate) struct ForkLock(MutexGuard<'static, ThreadTotals>);

pub(crate) fn lock_for_fork() -> ForkLock {
    ForkLock(THREADS.0.lock().unwrap_or_else(|e| e.into_inner()))
}

/// In the child after `fork()`: the parent's threads (and their open
/// spans) are not this process's.
pub(crate) fn forget_after_fork(mut lock: ForkLock) {
    lock.0.live.clear();
    lock.0.started = 0;
    lock.0.ended = 0;
}

/// Sampled spans started and not yet ended, in every thread.
pub(crate) fn open_spans() -> u64 {
    THREADS.open()
}

/// Counts `spans` delivered.
pub(crate) fn exported(spans: u64) {
    COUNTERS.exported.fetch_add(spans, Ordering::Relaxed);
}

/// The spans the export pipeline has counted since the process started.
///
/// An exporter's failure is counted once per span it lost: with two
/// exporters, a span both lose counts twice in `export_failed`.
///
/// ```
/// let before = xray_runtime::stats();
/// // ... traced work, then a flush ...
/// let lost = xray_runtime::stats().lost() - before.lost();
/// assert_eq!(lost, 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Spans handed to the exporters and accepted by them.
    pub exported: u64,
    /// Spans dropped because the export queue was full (the exporters could
    /// not keep up) or its memory could not be allocated.
    pub queue_full: u64,
    /// Spans an exporter lost: it failed, timed out, panicked or was too busy
    /// to take them, or the receiver rejected them.
    pub export_failed: u64,
    /// Spans ended under an installation (`init`) that a newer one replaced.
    pub superseded: u64,
    /// Spans ended after shutdown, or while their thread was exiting.
    pub ended_too_late: u64,
    /// Sampled spans started and not ended yet (not a count of losses:
    /// those still open when tracing shuts down are not exported).
    pub open: u64,
}

impl Stats {
    /// Every span lost, whatever the reason.
    pub fn lost(&self) -> u64 {
        self.queue_full + self.export_failed + self.superseded + self.ended_too_late
    }

    /// What was counted between `earlier` and `self` (`open` is `self`'s).
    pub fn since(&self, earlier: &Stats) -> Stats {
        Stats {
            exported: self.exported.saturating_sub(earlier.exported),
            queue_full: self.queue_full.saturating_sub(earlier.queue_full),
            export_failed: self.export_failed.saturating_sub(earlier.export_failed),
            superseded: self.superseded.saturating_sub(earlier.superseded),
            ended_too_late: self.ended_too_late.saturating_sub(earlier.ended_too_late),
            open: self.open,
        }
    }
}

impl fmt::Display for Stats {
    /// `1200 exported, 35 lost (30 queue full, 5 export failed)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} exported, {} lost", self.exported, self.lost())?;
        let reasons = [
            (self.queue_full, "export queue full"),
            (self.export_failed, "export failed"),
            (self.superseded, "ended after a new init"),
            (self.ended_too_late, "ended after shutdown"),
        ];
        let mut first = true;
        for (count, reason) in reasons.into_iter().filter(|(count, _)| *count > 0) {
            f.write_str(if first { " (" } else { ", " })?;
            write!(f, "{count} {reason}")?;
            first = false;
        }
        if !first {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// The spans counted since the process started; see [`Stats`].
pub fn stats() -> Stats {
    let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    Stats {
        exported: read(&COUNTERS.exported),
        queue_full: read(&COUNTERS.queue_full),
        export_failed: read(&COUNTERS.export_failed),
        superseded: read(&COUNTERS.superseded),
        ended_too_late: read(&COUNTERS.ended_too_late),
        open: open_spans(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_spans_are_told_by_reason() {
        let stats = Stats {
            exported: 1200,
            queue_full: 30,
            export_failed: 5,
            ..Stats::default()
        };
        assert_eq!(stats.lost(), 35);
        assert_eq!(
            stats.to_string(),
            "1200 exported, 35 lost (30 export queue full, 5 export failed)"
        );
        assert_eq!(Stats::default().to_string(), "0 exported, 0 lost");
        let later = Stats {
            queue_full: 31,
            ..stats
        };
        assert_eq!(later.since(&stats).lost(), 1);
    }

    #[test]
    fn open_spans_add_up_across_threads_and_survive_their_exit() {
        let threads: &'static Threads = Box::leak(Box::new(Threads::new()));
        std::thread::spawn(|| threads.register().publish(5, 2))
            .join()
            .expect("thread");
        let here = threads.register();
        // A span that ended here was started on the other thread.
        here.publish(0, 1);
        assert_eq!(threads.open(), 2);
        assert_eq!(threads.open(), 2, "the exited thread stays counted");
        here.publish(0, 3);
        assert_eq!(threads.open(), 0);
    }
}
