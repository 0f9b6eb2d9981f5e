//! `probe <config> <N>`: runs one configuration in this process — setup,
//! 10 000 warm-up calls, exactly `N` measured calls on the main thread,
//! flush, shutdown — and prints one line of `key=value` results.
//!
//! Made to run under `valgrind --tool=callgrind` with N=0 and with N (see
//! `tests/bench/callgrind.sh`): everything but the N measured calls is the
//! same in both runs and cancels out. A counting global allocator counts
//! the main thread's allocations during the measured calls only.
//!
//! `probe list` prints the configurations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::process::ExitCode;
use std::time::Duration;

use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use xray_bench::{exported_spans, fr, micro, otel, tr, xray};
use xray_runtime::propagation::XrayPropagator;
use xray_runtime::{Guard, SamplerKind};

// ---------------------------------------------------------------------------
// Counting allocator (per thread; only the main thread's numbers are read).

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
    static FREES: Cell<u64> = const { Cell::new(0) };
    static BYTES: Cell<u64> = const { Cell::new(0) };
}

fn count_alloc(size: usize) {
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
    let _ = BYTES.try_with(|c| c.set(c.get() + size as u64));
}

fn count_free() {
    let _ = FREES.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every method forwards to `System` unchanged; the counters are
// thread-local `Cell`s with constant initializers and no destructor, so
// counting never allocates or re-enters the allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_alloc(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_alloc(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count_free();
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // A realloc counts as one allocation and one free.
        count_alloc(new_size);
        count_free();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[derive(Clone, Copy, Default)]
struct Counts {
    allocs: u64,
    frees: u64,
    bytes: u64,
}

fn counts() -> Counts {
    Counts {
        allocs: ALLOCS.with(Cell::get),
        frees: FREES.with(Cell::get),
        bytes: BYTES.with(Cell::get),
    }
}

// ---------------------------------------------------------------------------
// The measured loop

/// Warm-up calls before the measured ones.
const WARM_UP: u64 = 10_000;
/// Warm-up calls for the exporter configurations (one call = one batch).
const WARM_UP_BATCHES: u64 = 20;
/// Prepared batches of the exporter configurations: N may not exceed it
/// (the pool is the same for every N, so preparing it cancels out).
const BATCH_POOL: usize = 400;

/// The measured calls: kept out of line so that callgrind shows them as one
/// function (`measured_loop`).
#[inline(never)]
fn measured_loop<F: FnMut(u64) -> u64>(n: u64, f: &mut F) -> Counts {
    let before = counts();
    for i in 0..n {
        black_box(f(black_box(i)));
    }
    let after = counts();
    Counts {
        allocs: after.allocs - before.allocs,
        frees: after.frees - before.frees,
        bytes: after.bytes - before.bytes,
    }
}

/// Warm-up, then the measured calls.
fn run<F: FnMut(u64) -> u64>(n: u64, mut f: F) -> Counts {
    for i in 0..WARM_UP {
        black_box(f(black_box(i)));
    }
    measured_loop(n, &mut f)
}

/// What a configuration reports besides the allocation counts.
struct Outcome {
    counts: Counts,
    /// Spans each call makes (11 for nested, BATCH_SPANS for exporters).
    spans_per_call: u64,
    /// Spans that should have reached the exporter (warm-up included), if
    /// the configuration exports.
    expected: Option<u64>,
    /// Spans that did.
    exported: u64,
}

impl Outcome {
    fn plain(counts: Counts, spans_per_call: u64) -> Self {
        Self {
            counts,
            spans_per_call,
            expected: None,
            exported: 0,
        }
    }
}

/// Flushes until `exported` has `expected` spans (a flush may time out
/// while the worker is slow, e.g. under valgrind); at most 30 attempts.
fn flush_until(expected: u64, exported: &dyn Fn() -> u64, flush: &dyn Fn()) -> u64 {
    for _ in 0..30 {
        flush();
        if exported() >= expected {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    exported()
}

/// `n` `#[traced]` children of one long-lived root under `guard`'s
/// installation, exported (the root too, after them).
fn xray_children_exported(n: u64, guard: Guard) -> Outcome {
    let counts = xray::under_root(|| run(n, xray::span));
    let mut outcome = xray_exported(n, 1, guard, counts);
    outcome.expected = outcome.expected.map(|e| e + 1);
    outcome
}

fn xray_exported(n: u64, spans: u64, guard: Guard, counts: Counts) -> Outcome {
    let expected = (WARM_UP + n) * spans;
    let exported = flush_until(expected, &exported_spans, &|| {
        if let Err(err) = guard.flush() {
            eprintln!("probe: flush: {err}");
        }
    });
    drop(guard);
    Outcome {
        counts,
        spans_per_call: spans,
        expected: Some(expected),
        exported,
    }
}

fn sdk_exported(n: u64, spans: u64, provider: SdkTracerProvider, counts: Counts) -> Outcome {
    let expected = (WARM_UP + n) * spans;
    let exported = flush_until(expected, &exported_spans, &|| {
        if let Err(err) = provider.force_flush() {
            eprintln!("probe: flush: {err}");
        }
    });
    let _ = provider.shutdown();
    Outcome {
        counts,
        spans_per_call: spans,
        expected: Some(expected),
        exported,
    }
}

fn fastrace_exported(expected: u64, spans: u64, counts: Counts) -> Outcome {
    let exported = flush_until(expected, &fr::reported_spans, &fr::flush);
    Outcome {
        counts,
        spans_per_call: spans,
        expected: Some(expected),
        exported,
    }
}

/// Every configuration: name, one-line description.
const CONFIGS: &[(&str, &str)] = &[
    ("plain", "plain call, no instrumentation"),
    (
        "plain_nested",
        "11 plain calls (baseline of the nested rows)",
    ),
    (
        "xray_sampled",
        "xray #[traced], AlwaysOn, no current span (new trace per call)",
    ),
    (
        "xray_child_sampled",
        "xray #[traced], AlwaysOn, child of a long-lived #[xray_root]",
    ),
    (
        "xray_nested",
        "xray #[traced] parent + 10 #[traced] children, AlwaysOn",
    ),
    ("xray_root_sampled", "xray #[xray_root] per call, AlwaysOn"),
    ("xray_unsampled", "xray #[traced], AlwaysOff"),
    (
        "xray_child_unsampled",
        "xray #[traced], child of an unsampled root",
    ),
    (
        "xray_nested_unsampled",
        "xray parent + 10 children, AlwaysOff",
    ),
    (
        "xray_root_unsampled",
        "xray #[xray_root] per call, AlwaysOff",
    ),
    (
        "xray_http_root_always_on",
        "xray #[xray_root] with a request's method and path per call, parentbased_always_on",
    ),
    (
        "xray_http_root_rules_sampled",
        "the same root decided by 20 X-Ray sampling rules (the match last), sampled",
    ),
    (
        "xray_http_root_rules_unsampled",
        "the same root decided by 20 X-Ray sampling rules (the match last), sampled out",
    ),
    (
        "xray_child_always_on",
        "xray #[traced], child of a long-lived root, parentbased_always_on",
    ),
    (
        "xray_child_rules",
        "xray #[traced], child of a long-lived root the X-Ray sampling rules sampled",
    ),
    ("xray_noprovider", "xray #[traced], no provider installed"),
    (
        "xray_nested_noprovider",
        "xray parent + 10 children, no provider installed",
    ),
    (
        "xray_root_noprovider",
        "xray #[xray_root], no provider installed",
    ),
    (
        "xray_sdk_disabled",
        "xray #[traced], init with OTEL_SDK_DISABLED=true",
    ),
    (
        "xray_nested_sdk_disabled",
        "xray parent + 10 children, OTEL_SDK_DISABLED=true",
    ),
    (
        "xray_root_sdk_disabled",
        "xray #[xray_root], OTEL_SDK_DISABLED=true",
    ),
    (
        "otel_sampled",
        "raw SDK SdkTracer start+attach+end, AlwaysOn, batch",
    ),
    (
        "otel_child_sampled",
        "raw SDK, child of a long-lived root, AlwaysOn",
    ),
    ("otel_nested", "raw SDK parent + 10 children, AlwaysOn"),
    ("otel_unsampled", "raw SDK, AlwaysOff"),
    (
        "otel_nested_unsampled",
        "raw SDK parent + 10 children, AlwaysOff",
    ),
    (
        "otel_noop",
        "raw API on the global tracer, no provider (no-op)",
    ),
    (
        "otel_nested_noop",
        "raw API parent + 10 children, no provider",
    ),
    (
        "tracing_sampled",
        "tracing #[instrument] + tracing-opentelemetry, AlwaysOn",
    ),
    ("tracing_nested", "tracing parent + 10 children, AlwaysOn"),
    (
        "tracing_unsampled",
        "tracing + tracing-opentelemetry, AlwaysOff",
    ),
    (
        "tracing_nested_unsampled",
        "tracing parent + 10 children, AlwaysOff",
    ),
    (
        "tracing_nosubscriber",
        "tracing #[instrument], no subscriber",
    ),
    (
        "fastrace_disabled",
        "fastrace #[trace], no reporter, no parent",
    ),
    (
        "fastrace_child",
        "fastrace #[trace] child, root recycled every 1000 calls",
    ),
    ("fastrace_nested", "fastrace root + 10 #[trace] children"),
    ("fastrace_root", "fastrace root span per call"),
    ("id_xray", "xray XrayIdGenerator::new_trace_id"),
    ("id_aws", "opentelemetry-aws XrayIdGenerator::new_trace_id"),
    (
        "id_sdk_random",
        "SDK RandomIdGenerator::new_trace_id (not X-Ray)",
    ),
    ("parse_xray", "xray XrayHeader::parse"),
    ("parse_aws", "opentelemetry-aws span_context_from_str"),
    ("format_xray", "xray XrayHeader::to_header_value"),
    ("format_aws", "opentelemetry-aws span_context_to_string"),
    (
        "extract_xray",
        "xray XrayPropagator::extract, HashMap carrier",
    ),
    (
        "extract_aws",
        "opentelemetry-aws XrayPropagator::extract, HashMap carrier",
    ),
    (
        "inject_xray",
        "xray XrayPropagator::inject_context, HashMap carrier",
    ),
    (
        "inject_aws",
        "opentelemetry-aws XrayPropagator::inject_context, HashMap carrier",
    ),
    (
        "console_batch",
        "xray ConsoleExporter to io::sink(), one batch per call",
    ),
    (
        "json_batch",
        "xray JsonExporter to io::sink(), one batch per call",
    ),
];

fn probe(config: &str, n: u64) -> Result<Outcome, String> {
    let outcome = match config {
        "plain" => Outcome::plain(run(n, xray_bench::plain), 1),
        "plain_nested" => Outcome::plain(run(n, xray_bench::plain_nested), 11),

        "xray_sampled" | "xray_nested" | "xray_root_sampled" => {
            let guard = xray::init(SamplerKind::AlwaysOn);
            let (counts, spans) = match config {
                "xray_sampled" => (run(n, xray::span), 1),
                "xray_nested" => (run(n, xray::nested), 11),
                _ => (run(n, xray::root), 1),
            };
            xray_exported(n, spans, guard, counts)
        }
        "xray_child_sampled" => xray_children_exported(n, xray::init(SamplerKind::AlwaysOn)),
        "xray_unsampled"
        | "xray_nested_unsampled"
        | "xray_root_unsampled"
        | "xray_child_unsampled" => {
            let guard = xray::init(SamplerKind::AlwaysOff);
            let outcome = match config {
                "xray_unsampled" => Outcome::plain(run(n, xray::span), 1),
                "xray_nested_unsampled" => Outcome::plain(run(n, xray::nested), 11),
                "xray_root_unsampled" => Outcome::plain(run(n, xray::root), 1),
                _ => Outcome::plain(xray::under_root(|| run(n, xray::span)), 1),
            };
            drop(guard);
            outcome
        }
        "xray_http_root_always_on" => {
            let guard = xray::init(SamplerKind::ParentBasedAlwaysOn);
            let counts = run(n, xray::http_root);
            xray_exported(n, 1, guard, counts)
        }
        "xray_http_root_rules_sampled" => {
            let guard = xray::init_rules(1.0);
            let counts = run(n, xray::http_root);
            xray_exported(n, 1, guard, counts)
        }
        "xray_http_root_rules_unsampled" => {
            let guard = xray::init_rules(0.0);
            let outcome = Outcome::plain(run(n, xray::http_root), 1);
            drop(guard);
            outcome
        }
        "xray_child_always_on" => {
            xray_children_exported(n, xray::init(SamplerKind::ParentBasedAlwaysOn))
        }
        "xray_child_rules" => xray_children_exported(n, xray::init_rules(1.0)),
        "xray_noprovider" => Outcome::plain(run(n, xray::span), 1),
        "xray_nested_noprovider" => Outcome::plain(run(n, xray::nested), 11),
        "xray_root_noprovider" => Outcome::plain(run(n, xray::root), 1),
        "xray_sdk_disabled" | "xray_nested_sdk_disabled" | "xray_root_sdk_disabled" => {
            let guard = xray::init_sdk_disabled();
            let outcome = match config {
                "xray_sdk_disabled" => Outcome::plain(run(n, xray::span), 1),
                "xray_nested_sdk_disabled" => Outcome::plain(run(n, xray::nested), 11),
                _ => Outcome::plain(run(n, xray::root), 1),
            };
            drop(guard);
            outcome
        }

        "otel_sampled" => {
            let provider = otel::install(Sampler::AlwaysOn);
            let counts = run(n, otel::span);
            sdk_exported(n, 1, provider, counts)
        }
        "otel_child_sampled" => {
            let provider = otel::install(Sampler::AlwaysOn);
            let counts = {
                let _root = otel::enter_root();
                run(n, otel::span)
            };
            let mut outcome = sdk_exported(n, 1, provider, counts);
            outcome.expected = outcome.expected.map(|e| e + 1);
            outcome
        }
        "otel_nested" => {
            let provider = otel::install(Sampler::AlwaysOn);
            let counts = run(n, otel::nested);
            sdk_exported(n, 11, provider, counts)
        }
        "otel_unsampled" | "otel_nested_unsampled" => {
            let provider = otel::install(Sampler::AlwaysOff);
            let outcome = if config == "otel_unsampled" {
                Outcome::plain(run(n, otel::span), 1)
            } else {
                Outcome::plain(run(n, otel::nested), 11)
            };
            let _ = provider.shutdown();
            outcome
        }
        "otel_noop" => Outcome::plain(run(n, otel::span_global), 1),
        "otel_nested_noop" => Outcome::plain(run(n, otel::nested_global), 11),

        "tracing_sampled" | "tracing_nested" => {
            let provider = tr::install(Sampler::AlwaysOn);
            let (counts, spans) = if config == "tracing_sampled" {
                (run(n, tr::span), 1)
            } else {
                (run(n, tr::nested), 11)
            };
            sdk_exported(n, spans, provider, counts)
        }
        "tracing_unsampled" | "tracing_nested_unsampled" => {
            let provider = tr::install(Sampler::AlwaysOff);
            let outcome = if config == "tracing_unsampled" {
                Outcome::plain(run(n, tr::span), 1)
            } else {
                Outcome::plain(run(n, tr::nested), 11)
            };
            let _ = provider.shutdown();
            outcome
        }
        "tracing_nosubscriber" => Outcome::plain(run(n, tr::span), 1),

        "fastrace_disabled" => Outcome::plain(run(n, fr::span), 1),
        "fastrace_child" => {
            fr::install();
            let counts = {
                let mut root = fr::Recycled::new();
                run(n, |x| {
                    root.tick();
                    fr::span(x)
                })
            };
            let calls = WARM_UP + n;
            // Roots: the first, and one more every ROOT_EVERY calls.
            fastrace_exported(calls + 1 + calls / fr::ROOT_EVERY, 1, counts)
        }
        "fastrace_nested" => {
            fr::install();
            let counts = run(n, fr::nested);
            fastrace_exported((WARM_UP + n) * 11, 11, counts)
        }
        "fastrace_root" => {
            fr::install();
            let counts = run(n, fr::root);
            fastrace_exported(WARM_UP + n, 1, counts)
        }

        "id_xray" => Outcome::plain(run(n, |_| micro::xray_trace_id().to_bytes()[15].into()), 1),
        "id_aws" => Outcome::plain(run(n, |_| micro::aws_trace_id().to_bytes()[15].into()), 1),
        "id_sdk_random" => {
            Outcome::plain(run(n, |_| micro::sdk_trace_id().to_bytes()[15].into()), 1)
        }
        "parse_xray" => Outcome::plain(
            run(n, |_| {
                u64::from(micro::xray_parse(black_box(micro::HEADER)).is_some())
            }),
            1,
        ),
        "parse_aws" => Outcome::plain(
            run(n, |_| {
                u64::from(micro::aws_parse(black_box(micro::HEADER)).is_some())
            }),
            1,
        ),
        "format_xray" => {
            let header = micro::parsed_header();
            Outcome::plain(
                run(n, |_| micro::xray_format(black_box(&header)).len() as u64),
                1,
            )
        }
        "format_aws" => {
            let span_context = micro::header_span_context();
            Outcome::plain(
                run(n, |_| {
                    micro::aws_format(black_box(&span_context)).map_or(0, |s| s.len() as u64)
                }),
                1,
            )
        }
        "extract_xray" => {
            let (carrier, propagator) = (micro::carrier(), XrayPropagator::new());
            Outcome::plain(
                run(n, |_| {
                    u64::from(
                        micro::xray_extract(&propagator, black_box(&carrier)).has_active_span(),
                    )
                }),
                1,
            )
        }
        "extract_aws" => {
            let carrier = micro::carrier();
            let propagator = opentelemetry_aws::trace::XrayPropagator::default();
            Outcome::plain(
                run(n, |_| {
                    u64::from(
                        micro::aws_extract(&propagator, black_box(&carrier)).has_active_span(),
                    )
                }),
                1,
            )
        }
        "inject_xray" => {
            let (cx, propagator) = (micro::context(), XrayPropagator::new());
            let mut out = std::collections::HashMap::new();
            Outcome::plain(
                run(n, |_| {
                    micro::xray_inject(&propagator, black_box(&cx), &mut out);
                    out.len() as u64
                }),
                1,
            )
        }
        "inject_aws" => {
            let cx = micro::context();
            let propagator = opentelemetry_aws::trace::XrayPropagator::default();
            let mut out = std::collections::HashMap::new();
            Outcome::plain(
                run(n, |_| {
                    micro::aws_inject(&propagator, black_box(&cx), &mut out);
                    out.len() as u64
                }),
                1,
            )
        }
        "console_batch" | "json_batch" => {
            let n_batches = usize::try_from(n).unwrap_or(usize::MAX);
            if n_batches > BATCH_POOL {
                return Err(format!("{config} takes N <= {BATCH_POOL} (batches)"));
            }
            let template = micro::batch(0);
            let mut pool: Vec<_> = (0..BATCH_POOL).map(|_| template.clone()).collect();
            let console = micro::console_exporter();
            let json = micro::json_exporter();
            let export = |batch| {
                if config == "console_batch" {
                    micro::export(&console, batch);
                } else {
                    micro::export(&json, batch);
                }
            };
            for _ in 0..WARM_UP_BATCHES {
                export(template.clone());
            }
            let mut f = |_| {
                export(pool.pop().unwrap_or_default());
                0
            };
            let counts = measured_loop(n, &mut f);
            Outcome::plain(counts, micro::BATCH_SPANS as u64)
        }
        _ => {
            return Err(format!(
                "unknown configuration {config:?} (see `probe list`)"
            ));
        }
    };
    Ok(outcome)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("list") {
        for (name, what) in CONFIGS {
            println!("{name}\t{what}");
        }
        return ExitCode::SUCCESS;
    }
    let (Some(config), Some(n)) = (args.first(), args.get(1).and_then(|n| n.parse().ok())) else {
        eprintln!("usage: probe <config> <N>   |   probe list");
        return ExitCode::from(2);
    };
    let outcome = match probe(config, n) {
        Ok(outcome) => outcome,
        Err(err) => {
            eprintln!("probe: {err}");
            return ExitCode::from(2);
        }
    };
    let Counts {
        allocs,
        frees,
        bytes,
    } = outcome.counts;
    let (expected, lost) = match outcome.expected {
        Some(e) => (
            e.to_string(),
            e.saturating_sub(outcome.exported).to_string(),
        ),
        None => ("-".into(), "-".into()),
    };
    // Read on a thread of its own: on this thread the read's allocation
    // could make the allocator tidy up after the N measured calls, an
    // instruction count that depends on N and is not the calls' cost.
    let peak_rss_kib = std::thread::spawn(xray_bench::peak_rss_kib)
        .join()
        .ok()
        .flatten()
        .unwrap_or(0);
    println!(
        "config={config} n={n} spans_per_call={} allocs={allocs} frees={frees} bytes={bytes} \
         expected={expected} exported={} lost={lost} peak_rss_kib={peak_rss_kib}",
        outcome.spans_per_call, outcome.exported,
    );
    ExitCode::SUCCESS
}
