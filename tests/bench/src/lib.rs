//! The configurations measured by the xray benchmarks, shared by the
//! criterion benches (`benches/*.rs`), the callgrind probe (`src/bin/probe.rs`)
//! and the throughput driver (`src/bin/throughput.rs`).
//!
//! Every configuration wraps the same trivial [`body`]; only the
//! instrumentation around it differs. One module per instrumentation:
//! [`xray`] (this workspace), [`otel`] (the raw OpenTelemetry SDK),
//! [`tr`] (`tracing` + `tracing-opentelemetry`), [`fr`] (`fastrace`), and
//! [`micro`] (ids, headers, exporters). The export-path measurements
//! (`src/bin/throughput.rs`) use [`contender`] (xray or the raw SDK over
//! OTLP) and [`receiver`] (the counting OTLP receiver).

use std::future::Future;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

pub mod contender;
pub mod fr;
pub mod micro;
pub mod otel;
pub mod receiver;
#[cfg(feature = "secure")]
pub mod sigv4;
pub mod tr;
pub mod xray;

/// The span name every configuration uses.
pub const SPAN_NAME: &str = "bench_span";

/// The measured function: two ALU operations on opaque values.
#[inline(never)]
pub fn body(x: u64) -> u64 {
    black_box(x).wrapping_mul(black_box(3)) ^ black_box(0x5a)
}

/// Configuration 1: the plain call, no instrumentation.
#[inline(never)]
pub fn plain(x: u64) -> u64 {
    body(x)
}

/// The baseline of the nested configurations: 11 plain calls (a parent's
/// body and 10 children).
#[inline(never)]
pub fn plain_nested(x: u64) -> u64 {
    let mut acc = body(x);
    for i in 0..10 {
        acc ^= plain(x.wrapping_add(i));
    }
    acc
}

/// Spans the [`DropExporter`]s of this process were handed.
static EXPORTED: AtomicU64 = AtomicU64::new(0);
/// Batches the [`DropExporter`]s of this process were handed.
static BATCHES: AtomicU64 = AtomicU64::new(0);

/// How many spans every [`DropExporter`] of this process has received.
pub fn exported_spans() -> u64 {
    EXPORTED.load(Ordering::Acquire)
}

/// How many batches every [`DropExporter`] of this process has received.
pub fn exported_batches() -> u64 {
    BATCHES.load(Ordering::Acquire)
}

/// An exporter that counts the spans of each batch and drops the batch.
///
/// The batch is dropped on the exporting thread, as a real exporter would
/// free it after serializing.
#[derive(Debug, Default, Clone, Copy)]
pub struct DropExporter;

impl SpanExporter for DropExporter {
    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        EXPORTED.fetch_add(batch.len() as u64, Ordering::AcqRel);
        BATCHES.fetch_add(1, Ordering::Relaxed);
        drop(batch);
        std::future::ready(Ok(()))
    }
}

/// The cargo target directory: `$CARGO_TARGET_DIR`, else the directory
/// above this executable's profile directory (`<target>/release/<bin>` and
/// `<target>/release/deps/<bench>` both resolve to `<target>`, whatever
/// the target directory is called).
pub fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let mut profile = exe.parent();
    if profile.is_some_and(|p| p.file_name().is_some_and(|n| n == "deps")) {
        profile = profile.and_then(|p| p.parent());
    }
    profile
        .and_then(|p| p.parent())
        .map_or_else(|| PathBuf::from("target"), PathBuf::from)
}

/// Where the benches and scripts leave their side results (drop counts,
/// callgrind and throughput tables): `<target>/xray-bench`.
pub fn results_dir() -> PathBuf {
    let dir = target_dir().join("xray-bench");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// User and system CPU time of this process so far, all threads together
/// (`getrusage(RUSAGE_SELF)`).
pub fn cpu_time() -> CpuTime {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a `rusage` into the pointer it is given,
    // which points to one; RUSAGE_SELF is always a valid `who`.
    let usage = unsafe {
        if libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) != 0 {
            return CpuTime::default();
        }
        usage.assume_init()
    };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    CpuTime {
        user_us: micros(usage.ru_utime),
        sys_us: micros(usage.ru_stime),
    }
}

/// CPU time in microseconds, from [`cpu_time`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTime {
    /// User time.
    pub user_us: u64,
    /// System time.
    pub sys_us: u64,
}

impl CpuTime {
    /// User + system.
    pub fn total_us(&self) -> u64 {
        self.user_us + self.sys_us
    }

    /// What was spent between `earlier` and `self`.
    pub fn since(&self, earlier: &CpuTime) -> CpuTime {
        CpuTime {
            user_us: self.user_us.saturating_sub(earlier.user_us),
            sys_us: self.sys_us.saturating_sub(earlier.sys_us),
        }
    }
}

/// CPU time (user + system, in ms) of each live thread of this process,
/// summed by thread name, largest first. Read from
/// `/proc/self/task/*/schedstat` (the scheduler's run time, in ns) where
/// the kernel has it, else from `stat` (clock ticks, 10 ms on most
/// systems). Threads that have exited are not listed.
pub fn thread_cpu_ms() -> Vec<(String, f64)> {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let ms_per_tick = if ticks > 0 { 1e3 / ticks as f64 } else { 10.0 };
    let mut threads: Vec<(String, f64)> = Vec::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return threads;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ...`: the name may hold spaces and parentheses.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].replace([' ', ',', ':', '='], "_");
        let run_ns = std::fs::read_to_string(task.path().join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok());
        let ms = match run_ns {
            Some(ns) => ns / 1e6,
            None => {
                let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
                // utime and stime are the 14th and 15th fields of the line.
                let ticks_used: f64 = [11, 12]
                    .iter()
                    .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
                    .sum();
                ticks_used * ms_per_tick
            }
        };
        match threads.iter_mut().find(|(n, _)| *n == name) {
            Some((_, total)) => *total += ms,
            None => threads.push((name, ms)),
        }
    }
    threads.sort_by(|a, b| b.1.total_cmp(&a.1));
    threads
}

/// Peak resident set size of this process in KiB (`VmHWM`), if readable.
pub fn peak_rss_kib() -> Option<u64> {
    proc_status_kib("VmHWM:")
}

/// Current resident set size of this process in KiB (`VmRSS`), if readable.
pub fn rss_kib() -> Option<u64> {
    proc_status_kib("VmRSS:")
}

fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}
