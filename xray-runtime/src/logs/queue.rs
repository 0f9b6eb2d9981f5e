//! Where log records wait for export: one bounded queue for the process,
//! filled by the `tracing` layer and the `log` bridge on the application's
//! threads and emptied by the logs' export thread. A record that finds the
//! queue full is dropped and counted; the queue never grows past its bound.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use super::STATS;
use super::record::LogRecord;

/// Whether a pipeline takes records: the first thing a bridge checks.
static ON: AtomicBool = AtomicBool::new(false);

/// The installed queue.
static QUEUE: RwLock<Option<Arc<Queue>>> = RwLock::new(None);

/// The records waiting for export.
#[cfg_attr(not(any(feature = "tracing", feature = "log")), allow(dead_code))]
pub(crate) struct Queue {
    records: Mutex<VecDeque<LogRecord>>,
    capacity: usize,
    /// A batch's worth: the export thread is woken when this many wait.
    batch: usize,
    /// Wakes the export thread (set once it runs).
    wake: OnceLock<Box<dyn Fn() + Send + Sync>>,
}

impl Queue {
    pub(crate) fn new(capacity: usize, batch: usize) -> Self {
        Self {
            records: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
            batch: batch.clamp(1, capacity.max(1)),
            wake: OnceLock::new(),
        }
    }

    /// How the queue wakes the export thread when a batch is waiting.
    pub(crate) fn set_wake(&self, wake: impl Fn() + Send + Sync + 'static) {
        let _ = self.wake.set(Box::new(wake));
    }

    #[cfg_attr(not(any(feature = "tracing", feature = "log")), allow(dead_code))]
    fn push(&self, record: LogRecord) {
        let waiting = {
            let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
            if records.len() >= self.capacity {
                drop(records);
                STATS.queue_full(1);
                return;
            }
            records.push_back(record);
            records.len()
        };
        if waiting == self.batch
            && let Some(wake) = self.wake.get()
        {
            wake();
        }
    }

    /// Takes up to `max` records, oldest first.
    pub(crate) fn take(&self, max: usize) -> Vec<LogRecord> {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        let n = records.len().min(max);
        records.drain(..n).collect()
    }

    /// How many records wait.
    pub(crate) fn len(&self) -> usize {
        self.records.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// Whether records are exported: when not, bridges skip building them.
#[cfg_attr(not(any(feature = "tracing", feature = "log")), allow(dead_code))]
#[inline]
pub(crate) fn accepting() -> bool {
    ON.load(Ordering::Relaxed)
}

/// Queues `record` for export (nothing when no pipeline runs).
#[cfg_attr(not(any(feature = "tracing", feature = "log")), allow(dead_code))]
pub(crate) fn emit(record: LogRecord) {
    let queue = QUEUE.read().unwrap_or_else(|e| e.into_inner()).clone();
    if let Some(queue) = queue {
        queue.push(record);
    }
}

/// Records go to `queue` from now on.
pub(crate) fn install(queue: Arc<Queue>) {
    *QUEUE.write().unwrap_or_else(|e| e.into_inner()) = Some(queue);
    ON.store(true, Ordering::Release);
}

/// No pipeline takes records any more (shutdown, or an installation without logs).
pub(crate) fn uninstall() {
    ON.store(false, Ordering::Release);
    *QUEUE.write().unwrap_or_else(|e| e.into_inner()) = None;
}

/// Whether `queue` is the installed one.
pub(crate) fn is_installed(queue: &Arc<Queue>) -> bool {
    QUEUE
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .is_some_and(|installed| Arc::ptr_eq(installed, queue))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::record::Severity;
    use std::sync::atomic::AtomicUsize;

    fn record(body: &str) -> LogRecord {
        LogRecord {
            time: std::time::SystemTime::now(),
            severity: Severity::Info,
            target: "test".into(),
            body: body.into(),
            attributes: Vec::new(),
            span: None,
        }
    }

    #[test]
    fn a_full_queue_drops_and_counts_and_a_batch_wakes_the_thread() {
        let wakes = Arc::new(AtomicUsize::new(0));
        let counted = wakes.clone();
        let queue = Queue::new(3, 2);
        queue.set_wake(move || {
            counted.fetch_add(1, Ordering::SeqCst);
        });
        let before = STATS.read();
        for i in 0..5 {
            queue.push(record(&i.to_string()));
        }
        assert_eq!(wakes.load(Ordering::SeqCst), 1, "once, at a batch");
        assert_eq!(STATS.read().since(&before).queue_full, 2);
        let taken: Vec<String> = queue.take(2).into_iter().map(|r| r.body).collect();
        assert_eq!(taken, ["0", "1"]);
        assert_eq!(queue.len(), 1);
    }
}
