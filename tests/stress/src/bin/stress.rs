//! Programs written to break the export path, one per scenario
//! (`stress <scenario>`), run as real processes by `tests/stress.rs`. Each
//! prints `key=value` facts on stdout, one per line, for the test to check.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use xray_runtime::{Config, FlushError, Guard, Span, SpanKind, traced};

/// What an exporter does with each batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Behaviour {
    Count,
    /// Panics on its first batch, then counts.
    PanicOnce,
    /// Never finishes an export.
    Hang,
    /// Takes this long per batch.
    Slow(Duration),
    /// Calls `flush()` and a traced function from inside its export.
    Reentrant,
}

#[derive(Clone, Debug)]
struct Counting {
    behaviour: Behaviour,
    spans: Arc<AtomicU64>,
    batches: Arc<AtomicU64>,
    panicked: Arc<AtomicBool>,
    inner_flush: Arc<Mutex<Option<String>>>,
    /// Start times (unix nanos) and durations of what it got.
    times: Arc<Mutex<Vec<(u128, u128)>>>,
}

impl Counting {
    fn new(behaviour: Behaviour) -> Self {
        Self {
            behaviour,
            spans: Arc::default(),
            batches: Arc::default(),
            panicked: Arc::default(),
            inner_flush: Arc::default(),
            times: Arc::default(),
        }
    }

    fn exported(&self) -> u64 {
        self.spans.load(Ordering::Relaxed)
    }
}

#[traced]
fn inside_the_exporter() -> u8 {
    1
}

impl SpanExporter for Counting {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        match self.behaviour {
            Behaviour::PanicOnce if !self.panicked.swap(true, Ordering::Relaxed) => {
                panic!("exporter bug on the first batch");
            }
            Behaviour::Hang => loop {
                std::thread::sleep(Duration::from_secs(3600));
            },
            Behaviour::Slow(pause) => std::thread::sleep(pause),
            Behaviour::Reentrant => {
                let outcome = match xray_runtime::flush() {
                    Ok(()) => "ok".to_string(),
                    Err(FlushError::InsideExport) => "inside_export".to_string(),
                    Err(other) => format!("{other:?}"),
                };
                *self.inner_flush.lock().expect("lock") = Some(outcome);
                inside_the_exporter();
            }
            _ => {}
        }
        {
            let mut times = self.times.lock().expect("lock");
            for span in &batch {
                let start = span
                    .start_time
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos());
                let duration = span
                    .end_time
                    .duration_since(span.start_time)
                    .map_or(0, |d| d.as_nanos());
                times.push((start, duration));
            }
        }
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.spans.fetch_add(batch.len() as u64, Ordering::Relaxed);
        if batch.is_empty() {
            return Err(OTelSdkError::InternalFailure("empty batch".into()));
        }
        Ok(())
    }
}

fn install(exporter: &Counting) -> Guard {
    xray_runtime::init(
        Config::new()
            .service_name("stress")
            .with_exporter(exporter.clone()),
    )
}

#[traced]
fn work(i: u64) -> u64 {
    std::hint::black_box(i)
}

fn fact(key: &str, value: impl std::fmt::Display) {
    println!("{key}={value}");
}

fn facts_of_stats(prefix: &str) {
    let stats = xray_runtime::stats();
    fact(&format!("{prefix}exported"), stats.exported);
    fact(&format!("{prefix}queue_full"), stats.queue_full);
    fact(&format!("{prefix}export_failed"), stats.export_failed);
    fact(&format!("{prefix}superseded"), stats.superseded);
    fact(&format!("{prefix}ended_too_late"), stats.ended_too_late);
    fact(&format!("{prefix}open"), stats.open);
}

fn flush_outcome(result: Result<(), FlushError>) -> String {
    match result {
        Ok(()) => "ok".into(),
        Err(FlushError::Timeout(_)) => "timeout".into(),
        Err(FlushError::Lost(stats)) => format!("lost:{}", stats.lost()),
        Err(FlushError::Export(message)) => format!("export:{}", message.replace('\n', " ")),
        Err(other) => format!("{other:?}"),
    }
}

/// Peak resident memory, in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// A million spans pending, then one flush.
fn flush_million() {
    let exporter = Counting::new(Behaviour::Count);
    let guard = install(&exporter);
    const SPANS: u64 = 1_000_000;
    for i in 0..SPANS {
        work(i);
    }
    let started = Instant::now();
    fact("flush", flush_outcome(guard.flush()));
    fact("flush_ms", started.elapsed().as_millis());
    fact("made", SPANS);
    fact("delivered", exporter.exported());
    facts_of_stats("");
}

/// An exporter that panics once: export goes on, exited threads' queues
/// are drained, and flushes do not wait for a dead thread. (Run with a
/// queue large enough for the burst: no span is lost to a full queue.)
fn panicking_exporter() {
    let exporter = Counting::new(Behaviour::PanicOnce);
    let guard = install(&exporter);
    for i in 0..100 {
        work(i);
    }
    fact("first_flush", flush_outcome(guard.flush()));
    let threads: Vec<_> = (0..1000)
        .map(|_| {
            std::thread::spawn(|| {
                for i in 0..100 {
                    work(i);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("worker");
    }
    let started = Instant::now();
    fact("second_flush", flush_outcome(guard.flush()));
    fact("second_flush_ms", started.elapsed().as_millis());
    fact("made", 100 + 1000 * 100);
    fact("delivered", exporter.exported());
    facts_of_stats("");
    fact("peak_rss_kib", peak_rss_kib());
}

/// A second `init` while spans are being made: every span is exported by
/// one of the two, or counted.
fn second_init() {
    let first = Counting::new(Behaviour::Count);
    let second = Counting::new(Behaviour::Count);
    let stop = Arc::new(AtomicBool::new(false));
    let made = Arc::new(AtomicU64::new(0));
    let guard_a = install(&first);
    let producer = {
        let (stop, made) = (stop.clone(), made.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                for i in 0..100 {
                    work(i);
                }
                made.fetch_add(100, Ordering::Relaxed);
                std::thread::sleep(Duration::from_micros(200));
            }
        })
    };
    // A span that starts under the first installation and ends under the second.
    let straddling = Span::root(
        "straddling",
        SpanKind::Internal,
        &xray_runtime::Context::new(),
    );
    std::thread::sleep(Duration::from_millis(300));
    let guard_b = install(&second);
    drop(straddling);
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    producer.join().expect("producer");
    fact("flush_b", flush_outcome(guard_b.flush()));
    fact("flush_a", flush_outcome(guard_a.flush()));
    fact("made", made.load(Ordering::Relaxed) + 1);
    fact("delivered_a", first.exported());
    fact("delivered_b", second.exported());
    facts_of_stats("");
    drop(guard_b);
    drop(guard_a);
}

/// Spans still open at shutdown, and spans ending after it.
fn open_at_shutdown() {
    let exporter = Counting::new(Behaviour::Count);
    let guard = install(&exporter);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    for i in 0..4 {
        runtime.spawn(background(i));
    }
    std::thread::sleep(Duration::from_millis(100));
    drop(guard);
    // They end now, after the shutdown.
    runtime.shutdown_timeout(Duration::from_secs(1));
    facts_of_stats("");
}

#[traced]
async fn background(i: u64) -> u64 {
    tokio::time::sleep(Duration::from_secs(3600)).await;
    i
}

thread_local! {
    /// Declared by the program, used before the runtime's own thread state:
    /// its destructor runs after the runtime's.
    static HELD: std::cell::RefCell<Option<Span>> = const { std::cell::RefCell::new(None) };
}

/// A span ended by a thread-local destructor, after the thread's span
/// state is gone.
fn thread_exit() {
    let exporter = Counting::new(Behaviour::Count);
    let guard = install(&exporter);
    std::thread::spawn(|| {
        HELD.with(|held| held.borrow_mut().take());
        let span = Span::root("held", SpanKind::Internal, &xray_runtime::Context::new());
        HELD.with(|held| *held.borrow_mut() = Some(span));
    })
    .join()
    .expect("thread");
    fact("flush", flush_outcome(guard.flush()));
    facts_of_stats("");
}

/// An exporter that never answers: shutdown returns in time and says
/// what was lost.
fn hung_exporter() {
    let exporter = Counting::new(Behaviour::Hang);
    let guard = xray_runtime::init(
        Config::new()
            .service_name("stress")
            .shutdown_timeout(Duration::from_millis(500))
            .with_exporter(exporter.clone()),
    );
    for i in 0..2000 {
        work(i);
    }
    let started = Instant::now();
    fact("shutdown", flush_outcome(guard.shutdown()));
    fact("shutdown_ms", started.elapsed().as_millis());
    facts_of_stats("");
}

/// A queue too small for a burst: the flush says how many were lost.
fn flush_reports_losses() {
    let exporter = Counting::new(Behaviour::Slow(Duration::from_millis(1)));
    let guard = install(&exporter);
    for i in 0..20_000 {
        work(i);
    }
    fact("flush", flush_outcome(guard.flush()));
    fact("flush_again", flush_outcome(guard.flush()));
    fact("delivered", exporter.exported());
    facts_of_stats("");
}

/// Thousands of threads at once against a slow exporter: memory stays
/// bounded, and every span is exported or counted.
fn thread_burst() {
    let exporter = Counting::new(Behaviour::Slow(Duration::from_millis(2)));
    let guard = install(&exporter);
    const THREADS: u64 = 3200;
    const SPANS: u64 = 1000;
    let gate = Arc::new(std::sync::Barrier::new(THREADS as usize));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let gate = gate.clone();
            std::thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(move || {
                    gate.wait();
                    for i in 0..SPANS {
                        work(i);
                    }
                })
                .expect("thread")
        })
        .collect();
    for thread in threads {
        thread.join().expect("worker");
    }
    fact("flush", flush_outcome(guard.flush()));
    fact("made", THREADS * SPANS);
    fact("delivered", exporter.exported());
    facts_of_stats("");
    fact("peak_rss_kib", peak_rss_kib());
}

/// `OTEL_BSP_MAX_QUEUE_SIZE` far beyond memory: clamped, not an abort.
fn huge_queue() {
    let exporter = Counting::new(Behaviour::Count);
    let guard = install(&exporter);
    for i in 0..1000 {
        work(i);
    }
    fact("flush", flush_outcome(guard.flush()));
    fact("delivered", exporter.exported());
    fact("peak_rss_kib", peak_rss_kib());
}

/// An exporter that calls `flush()` and traced code.
fn reentrant() {
    let exporter = Counting::new(Behaviour::Reentrant);
    let guard = install(&exporter);
    for i in 0..100 {
        work(i);
    }
    let started = Instant::now();
    fact("flush", flush_outcome(guard.flush()));
    fact("flush_ms", started.elapsed().as_millis());
    std::thread::sleep(Duration::from_millis(200));
    fact("flush_again", flush_outcome(guard.flush()));
    fact(
        "inner_flush",
        exporter
            .inner_flush
            .lock()
            .expect("lock")
            .clone()
            .unwrap_or_default(),
    );
    fact("delivered", exporter.exported());
}

/// Spans made by the parent and by a forked child.
fn fork() {
    let exporter = Counting::new(Behaviour::Count);
    let guard = install(&exporter);
    // Warm this thread's generator, so the child inherits its state.
    work(0);
    // SAFETY: the child only runs Rust code of this program and exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        fact("fork", "failed");
        return;
    }
    if pid == 0 {
        let started = Instant::now();
        let flushed = flush_outcome(xray_runtime::flush());
        fact("child_flush", flushed);
        fact("child_flush_ms", started.elapsed().as_millis());
        fact(
            "child_traced_before_init",
            xray_runtime::current_trace_id().is_some(),
        );
        let child_exporter = Counting::new(Behaviour::Count);
        let child_guard = install(&child_exporter);
        let ids: Vec<String> = (0..3).map(|_| next_span_id()).collect();
        fact("child_ids", ids.join(","));
        for i in 0..50 {
            work(i);
        }
        fact("child_second_flush", flush_outcome(child_guard.flush()));
        fact("child_delivered", child_exporter.exported());
        drop(child_guard);
        drop(guard);
        // SAFETY: ends the child without running the parent's exit handlers.
        unsafe { libc::_exit(0) };
    }
    let ids: Vec<String> = (0..3).map(|_| next_span_id()).collect();
    fact("parent_ids", ids.join(","));
    let mut status = 0;
    // SAFETY: waits for the child started above.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    fact("parent_flush", flush_outcome(guard.flush()));
}

/// The id of a new span on this thread.
fn next_span_id() -> String {
    let mut span = Span::root("id", SpanKind::Internal, &xray_runtime::Context::new());
    span.in_scope(|| xray_runtime::current_span_id().unwrap_or_default())
}

/// Span times with the monotonic clock instead of the CPU's counter.
fn clock() {
    let exporter = Counting::new(Behaviour::Count);
    let guard = install(&exporter);
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    sleeping();
    fact("flush", flush_outcome(guard.flush()));
    let times = exporter.times.lock().expect("lock").clone();
    if let Some((start, duration)) = times.first() {
        fact(
            "start_offset_ms",
            (*start as i128 - before as i128) / 1_000_000,
        );
        fact("duration_ms", duration / 1_000_000);
    }
}

#[traced]
fn sleeping() {
    std::thread::sleep(Duration::from_millis(50));
}

fn main() {
    let scenario = std::env::args().nth(1).unwrap_or_default();
    match scenario.as_str() {
        "flush_million" => flush_million(),
        "panicking_exporter" => panicking_exporter(),
        "second_init" => second_init(),
        "open_at_shutdown" => open_at_shutdown(),
        "thread_exit" => thread_exit(),
        "hung_exporter" => hung_exporter(),
        "flush_reports_losses" => flush_reports_losses(),
        "thread_burst" => thread_burst(),
        "huge_queue" => huge_queue(),
        "reentrant" => reentrant(),
        "fork" => fork(),
        "clock" => clock(),
        other => {
            eprintln!("stress: unknown scenario {other:?}");
            std::process::exit(2);
        }
    }
}
