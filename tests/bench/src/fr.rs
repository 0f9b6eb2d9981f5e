//! Configuration 5: `fastrace`'s `#[trace]` (feature `enable`).
//!
//! `#[trace]` records only under a local parent. A long-lived root is
//! recycled every [`ROOT_EVERY`] calls: fastrace keeps a bounded number of
//! local spans per root, and this is how a long-running thread would use it.

use fastrace::collector::{Config, Reporter, SpanContext, SpanRecord};
use fastrace::local::LocalParentGuard;
use fastrace::{Span, trace};

use crate::body;

/// Calls per long-lived root (the root's cost is spread over them).
pub const ROOT_EVERY: u64 = 1000;

/// One `#[trace]` span around the body.
#[trace(name = "bench_span")]
#[inline(never)]
pub fn span(x: u64) -> u64 {
    body(x)
}

/// A root span per call (`Span::root` + `set_local_parent`), fastrace's
/// equivalent of a new trace per call.
#[inline(never)]
pub fn root(x: u64) -> u64 {
    let root = Span::root("bench_root", SpanContext::random());
    let _guard = root.set_local_parent();
    body(x)
}

/// A root per call with 10 `#[trace]` children: 11 spans.
#[inline(never)]
pub fn nested(x: u64) -> u64 {
    let root = Span::root("bench_parent", SpanContext::random());
    let _guard = root.set_local_parent();
    let mut acc = body(x);
    for i in 0..10 {
        acc ^= span(x.wrapping_add(i));
    }
    acc
}

/// Counts and drops what the collector reports.
struct DropReporter;

impl Reporter for DropReporter {
    fn report(&mut self, spans: Vec<SpanRecord>) {
        REPORTED.fetch_add(spans.len() as u64, std::sync::atomic::Ordering::Relaxed);
        drop(spans);
    }
}

static REPORTED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Spans the reporter received so far.
pub fn reported_spans() -> u64 {
    REPORTED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Installs the counting, dropping reporter with fastrace's default config.
pub fn install() {
    fastrace::set_reporter(DropReporter, Config::default());
}

/// Reports everything collected so far.
pub fn flush() {
    fastrace::flush();
}

/// A long-lived root, current on this thread, replaced every
/// [`ROOT_EVERY`] calls of [`Recycled::tick`].
pub struct Recycled {
    calls: u64,
    // Field order: the guard is dropped before its span.
    guard: Option<LocalParentGuard>,
    root: Option<Span>,
}

impl Recycled {
    /// Starts the first root.
    pub fn new() -> Self {
        let mut this = Self {
            calls: 0,
            guard: None,
            root: None,
        };
        this.renew();
        this
    }

    fn renew(&mut self) {
        self.guard = None;
        self.root = None;
        let root = Span::root("bench_long_root", SpanContext::random());
        self.guard = Some(root.set_local_parent());
        self.root = Some(root);
    }

    /// Counts a call, starting a new root after every [`ROOT_EVERY`] calls.
    #[inline(always)]
    pub fn tick(&mut self) {
        self.calls += 1;
        if self.calls == ROOT_EVERY {
            self.calls = 0;
            self.renew();
        }
    }
}

impl Default for Recycled {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Recycled {
    fn drop(&mut self) {
        self.guard = None;
        self.root = None;
    }
}
