//! Shared by every bench binary: criterion settings and the loop that
//! counts calls, so that spans lost by a full export queue are reported.

// Each bench binary includes this module and uses only part of it.
#![allow(dead_code)]

use std::fs::OpenOptions;
use std::hint::black_box;
use std::io::Write;
use std::time::Instant;

use criterion::Criterion;

/// Criterion settings for this machine (2 vCPU, noisy): 50 samples, 2 s
/// warm-up, 4 s measurement per benchmark. Command-line options
/// (`--sample-size`, `--warm-up-time`, `--measurement-time`, filters) win.
pub fn criterion() -> Criterion {
    Criterion::default()
        .sample_size(50)
        .warm_up_time(std::time::Duration::from_secs(2))
        .measurement_time(std::time::Duration::from_secs(4))
        .configure_from_args()
}

/// Benchmarks `f` called once per iteration with a varying argument;
/// returns how many calls were made (warm-up included).
pub fn bench<F: FnMut(u64) -> u64>(c: &mut Criterion, id: &str, mut f: F) -> u64 {
    let mut calls = 0u64;
    c.bench_function(id, |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for i in 0..iters {
                black_box(f(black_box(i)));
            }
            let elapsed = start.elapsed();
            calls += iters;
            elapsed
        })
    });
    calls
}

/// [`bench`] in runs of `run` calls with `flush` between them, untimed:
/// every span is exported (the queue holds a run), and the export thread
/// works only while the clock is stopped, so it neither competes with the
/// calling thread for the cores nor frees its memory while it runs. Two
/// configurations measured this way differ only in what the calling
/// thread does. Returns how many calls were made.
pub fn bench_in_runs<F: FnMut(u64) -> u64>(
    c: &mut Criterion,
    id: &str,
    run: u64,
    flush: &dyn Fn(),
    mut f: F,
) -> u64 {
    let mut calls = 0u64;
    c.bench_function(id, |b| {
        b.iter_custom(|iters| {
            let mut elapsed = std::time::Duration::ZERO;
            let mut done = 0;
            while done < iters {
                let n = run.min(iters - done);
                let start = Instant::now();
                for i in done..done + n {
                    black_box(f(black_box(i)));
                }
                elapsed += start.elapsed();
                flush();
                done += n;
            }
            calls += iters;
            elapsed
        })
    });
    calls
}

/// What a benchmark that exports spans started and what reached the
/// exporter; written to stderr and appended to
/// `<target>/xray-bench/exported.tsv` (read by `report.py`).
pub fn report_export(id: &str, calls: u64, spans_per_call: u64, exported: u64) {
    if calls == 0 {
        return; // filtered out
    }
    let started = calls * spans_per_call;
    let lost = started.saturating_sub(exported);
    let pct = 100.0 * lost as f64 / started as f64;
    eprintln!("{id}: {started} spans started, {exported} exported, {lost} lost ({pct:.1}%)");
    let path = xray_bench::results_dir().join("exported.tsv");
    if let Ok(mut file) = OpenOptions::new().create(true).append(true).open(path) {
        let _ = writeln!(file, "{id}\t{started}\t{exported}\t{lost}\t{pct:.2}");
    }
}

/// [`bench`], then flushes with `flush` and reports what reached the
/// exporter (counted by `exported`) against `spans_per_call` per call.
pub fn bench_exported<F: FnMut(u64) -> u64>(
    c: &mut Criterion,
    id: &str,
    spans_per_call: u64,
    flush: &dyn Fn(),
    exported: &dyn Fn() -> u64,
    f: F,
) {
    let before = exported();
    let calls = bench(c, id, f);
    flush();
    report_export(id, calls, spans_per_call, exported() - before);
}
