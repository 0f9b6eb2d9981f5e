//! The process-wide state the span path reads: whether tracing is on, which
//! installation is current, every thread's queue of finished spans, and the
//! door to the running export pipeline.
//!
//! The provider writes it at `init` and shutdown; the span path only reads
//! it, with relaxed atomic loads, and reaches the pipeline through the
//! [`Pipeline`] trait so that it never depends on the export code.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockWriteGuard};
use std::time::Duration;

use crate::flush_error::FlushError;
use crate::queue::{self, BLOCK_SLOTS, Consumer, Pool, PoolLock, Producer};
use crate::record::Finished;

/// Installations made by tests (`testing`'s captures, the crate's own
/// unit tests) take turns.
#[cfg(any(test, feature = "testing"))]
pub(crate) static TEST_INSTALLS: Mutex<()> = Mutex::new(());

/// Fast check made by every instrumented call before anything else.
pub(crate) static ENABLED: AtomicBool = AtomicBool::new(false);

/// Which `init` installed the current provider: an old guard must not tear
/// down a newer installation, and spans of an old one are not exported by
/// the next.
static GENERATION: AtomicU32 = AtomicU32::new(0);

/// Set once the OpenTelemetry API has made a span through our tracer: from
/// then on, span starts also look at that API's current span.
static OTEL_API_USED: AtomicBool = AtomicBool::new(false);

/// How long [`flush_active`] may wait.
static FLUSH_TIMEOUT_MS: AtomicU64 = AtomicU64::new(5000);

/// The blocks of every thread's queue of finished spans: the memory cap of
/// all queues together. Sized by `init` from `OTEL_BSP_MAX_QUEUE_SIZE`.
pub(crate) static POOL: Pool<Finished> = Pool::new(1);

/// The consumer ends of every thread's queue (shared by successive
/// installations; each record carries the installation it belongs to).
static QUEUES: Mutex<Vec<Consumer<Finished>>> = Mutex::new(Vec::new());

/// Spans of a newer installation that an older export thread drained before
/// it stopped: the newer thread takes them.
static HANDOVER: Mutex<Vec<Finished>> = Mutex::new(Vec::new());

/// Blocks filled since the export thread last drained, and how many make a
/// batch worth waking it for.
static FILLED_BLOCKS: AtomicUsize = AtomicUsize::new(0);
static BLOCKS_PER_BATCH: AtomicUsize = AtomicUsize::new(16);
/// Set when a producer found the pool empty, until the next drain.
static STARVED: AtomicBool = AtomicBool::new(false);

/// The running export pipeline, as the span path and the next installation
/// need it.
pub(crate) trait Pipeline: Send + Sync {
    /// Spans are waiting: export soon.
    fn nudge(&self);
    /// Exports everything finished so far, waiting at most `wait`.
    fn flush(&self, wait: Duration) -> Result<(), FlushError>;
    /// A newer installation takes over: take what is queued now, then stop
    /// reading the queues.
    fn retire(&self);
}

static PIPELINE: RwLock<Option<Arc<dyn Pipeline>>> = RwLock::new(None);

#[inline]
pub(crate) fn generation() -> u32 {
    GENERATION.load(Ordering::Relaxed)
}

/// Starts a new installation and returns its generation. Spans started
/// from now on belong to it (tracing stays on if it was: spans ending
/// before its export thread runs wait in the queues for it).
pub(crate) fn next_generation() -> u32 {
    GENERATION.fetch_add(1, Ordering::AcqRel).wrapping_add(1)
}

/// Whether `generation` is still the current installation.
pub(crate) fn is_current(generation: u32) -> bool {
    GENERATION.load(Ordering::Acquire) == generation
}

/// The pipeline receiving spans now, if any.
pub(crate) fn pipeline() -> Option<Arc<dyn Pipeline>> {
    PIPELINE.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Sizes the queues: room for `spans` waiting spans, plus one block for
/// each of `staging_threads` threads part-way through a block. Spans ending
/// beyond it are dropped and counted; memory never grows past it.
pub(crate) fn size_queues(spans: usize, batch: usize, staging_threads: usize) {
    POOL.set_cap(spans.div_ceil(BLOCK_SLOTS) + staging_threads);
    BLOCKS_PER_BATCH.store(batch.div_ceil(BLOCK_SLOTS).max(1), Ordering::Relaxed);
}

/// The most spans all queues together can hold.
pub(crate) fn queue_capacity() -> usize {
    POOL.cap() * BLOCK_SLOTS
}

/// Turns tracing on with `pipeline` receiving the spans.
pub(crate) fn enable(pipeline: Arc<dyn Pipeline>, flush_timeout: Duration) {
    FLUSH_TIMEOUT_MS.store(flush_timeout.as_millis() as u64, Ordering::Relaxed);
    *PIPELINE.write().unwrap_or_else(|e| e.into_inner()) = Some(pipeline);
    ENABLED.store(true, Ordering::Release);
}

/// Turns tracing off and forgets the pipeline.
pub(crate) fn disable() {
    ENABLED.store(false, Ordering::Release);
    *PIPELINE.write().unwrap_or_else(|e| e.into_inner()) = None;
}

#[inline]
pub(crate) fn otel_api_used() -> bool {
    OTEL_API_USED.load(Ordering::Relaxed)
}

pub(crate) fn mark_otel_api_used() {
    if !OTEL_API_USED.load(Ordering::Relaxed) {
        OTEL_API_USED.store(true, Ordering::Relaxed);
    }
}

/// A new queue for this thread, its consumer end registered for the
/// export thread.
pub(crate) fn register_queue() -> Producer<Finished> {
    let (producer, consumer) = queue::queue(&POOL);
    QUEUES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(consumer);
    producer
}

/// Leaves spans of a newer installation for its export thread.
pub(crate) fn hand_over(spans: Vec<Finished>) {
    if !spans.is_empty() {
        HANDOVER
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(spans);
    }
}

/// Takes the spans left by older export threads.
pub(crate) fn take_handed_over() -> Vec<Finished> {
    std::mem::take(&mut *HANDOVER.lock().unwrap_or_else(|e| e.into_inner()))
}

/// Whether installation `generation` came after `of`.
pub(crate) fn is_newer(generation: u32, of: u32) -> bool {
    (generation.wrapping_sub(of) as i32) > 0
}

/// Every thread's queue, for the export thread (one drainer at a time).
pub(crate) fn queues() -> MutexGuard<'static, Vec<Consumer<Finished>>> {
    QUEUES.lock().unwrap_or_else(|e| e.into_inner())
}

/// A producer filled a block: wake the export thread once a batch is waiting.
#[inline]
pub(crate) fn block_filled() {
    let filled = FILLED_BLOCKS.fetch_add(1, Ordering::Relaxed) + 1;
    if filled == BLOCKS_PER_BATCH.load(Ordering::Relaxed) {
        nudge();
    }
}

/// A producer found no room: wake the export thread (once until it drains).
#[cold]
pub(crate) fn queue_starved() {
    if !STARVED.swap(true, Ordering::Relaxed) {
        nudge();
    }
}

/// The export thread drained the queues: returns whether they had run out
/// of room since the last drain.
pub(crate) fn drained() -> bool {
    FILLED_BLOCKS.store(0, Ordering::Relaxed);
    STARVED.swap(false, Ordering::Relaxed)
}

/// Wakes the export thread.
pub(crate) fn nudge() {
    if let Some(pipeline) = PIPELINE.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        pipeline.nudge();
    }
}

/// Exports every span ended so far through the installed pipeline; `Ok`
/// when none is installed.
pub(crate) fn flush_active() -> Result<(), FlushError> {
    match pipeline() {
        Some(pipeline) => {
            let wait = Duration::from_millis(FLUSH_TIMEOUT_MS.load(Ordering::Relaxed).max(100));
            pipeline.flush(wait)
        }
        None => Ok(()),
    }
}

/// The state's locks, taken by the forking thread just before `fork()`.
pub(crate) struct ForkLocks {
    _pipeline: RwLockWriteGuard<'static, Option<Arc<dyn Pipeline>>>,
    queues: MutexGuard<'static, Vec<Consumer<Finished>>>,
    pool: PoolLock<'static, Finished>,
}

pub(crate) fn lock_for_fork() -> ForkLocks {
    ForkLocks {
        _pipeline: PIPELINE.write().unwrap_or_else(|e| e.into_inner()),
        queues: QUEUES.lock().unwrap_or_else(|e| e.into_inner()),
        pool: POOL.lock_for_fork(),
    }
}

/// In the child after `fork()`: tracing is off until `init`, and the
/// parent's queues are forgotten (their producers are threads that do not
/// exist here, and their spans are the parent's to export); then the locks
/// are released.
pub(crate) fn forget_after_fork(mut locks: ForkLocks) {
    ENABLED.store(false, Ordering::Release);
    // Dropping the consumer ends would be safe but pointless work: their
    // blocks stay with queues that never close. Leaked, bounded by the pool.
    std::mem::forget(std::mem::take(&mut *locks.queues));
    locks.pool.forget_lent();
}
