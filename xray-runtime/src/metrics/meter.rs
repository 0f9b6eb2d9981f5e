//! Call metering for `#[xray_root]` and `#[traced(metrics)]`: each call's
//! duration goes into `xray.call.duration` with its function and outcome
//! (`ok`, `error` for an `Err`, `fault` for a panic), sampled or not, and
//! keeps its span as the exemplar of its bucket.
//!
//! Only the call sites the macros mark are metered: every other traced
//! call runs exactly the code it ran before metrics existed. With metrics
//! off, a metered call costs one relaxed load at entry and one test at exit.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::task::{Context as TaskContext, Poll};

use opentelemetry::KeyValue;
use pin_project_lite::pin_project;

use super::histogram::{Context, Series};
use super::instruments::CALLS;
use super::switch::ON;
use crate::clock;
use crate::span::guard::{PendingSpan, SpanGuard};
use crate::span::stack::{self, Frame};

/// The attribute naming the function of a metered call.
pub(crate) const FUNCTION_KEY: &str = "code.function.name";
/// The attribute saying how a metered call ended.
pub(crate) const OUTCOME_KEY: &str = "xray.outcome";

/// How a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// It returned, and not an `Err`.
    Ok = 0,
    /// It returned an `Err` (as its span records it), or its caller
    /// dropped it unfinished.
    Error = 1,
    /// It panicked.
    Fault = 2,
}

impl Outcome {
    pub(crate) const ALL: [Outcome; 3] = [Outcome::Ok, Outcome::Error, Outcome::Fault];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Error => "error",
            Self::Fault => "fault",
        }
    }
}

/// A metered function, fixed at compile time by the macros.
#[doc(hidden)]
#[derive(Debug)]
pub struct MeterSite {
    function: &'static str,
    /// Its series, one per outcome, found on first use.
    series: OnceLock<[Arc<Series>; 3]>,
}

impl MeterSite {
    /// The site of `function` (`module::path::name`).
    pub const fn new(function: &'static str) -> Self {
        Self {
            function,
            series: OnceLock::new(),
        }
    }

    fn series(&self, outcome: Outcome) -> &Series {
        let all = self.series.get_or_init(|| {
            Outcome::ALL.map(|outcome| {
                CALLS.series(vec![
                    KeyValue::new(FUNCTION_KEY, self.function),
                    KeyValue::new(OUTCOME_KEY, outcome.name()),
                ])
            })
        });
        &all[outcome as usize]
    }
}

fn context_of(frame: &Frame) -> Context {
    Context {
        trace_id: frame.trace_id,
        span_id: frame.span_id,
        sampled: frame.is_exported(),
    }
}

/// One metered call: the time it started, the span it runs in. Records
/// when dropped: `fault` while panicking, `error` once marked failed,
/// else `ok`.
#[doc(hidden)]
#[derive(Debug)]
pub struct CallMeter {
    site: &'static MeterSite,
    /// When the call started; `None` when metrics are off.
    start: Option<u64>,
    span: Option<Context>,
    failed: Cell<bool>,
}

impl CallMeter {
    #[inline(always)]
    fn off(site: &'static MeterSite) -> Self {
        Self {
            site,
            start: None,
            span: None,
            failed: Cell::new(false),
        }
    }

    /// Meters a synchronous call whose span `guard` holds.
    #[inline]
    pub fn enter(site: &'static MeterSite, guard: &SpanGuard) -> Self {
        if !ON.load(Ordering::Relaxed) {
            return Self::off(site);
        }
        Self::entered(site, guard.span().current)
    }

    #[inline(never)]
    fn entered(site: &'static MeterSite, current: bool) -> Self {
        let span = if current {
            stack::with_top(|frame| context_of(frame))
        } else {
            None
        };
        Self {
            site,
            start: Some(clock::ticks()),
            span,
            failed: Cell::new(false),
        }
    }

    /// Meters a future's call, whose span `span` is.
    #[inline]
    pub(crate) fn start(site: &'static MeterSite, span: &PendingSpan) -> Self {
        if !ON.load(Ordering::Relaxed) {
            return Self::off(site);
        }
        Self {
            site,
            start: Some(clock::ticks()),
            span: span.frame.as_ref().map(context_of),
            failed: Cell::new(false),
        }
    }

    /// The call failed (it returned an `Err`) when `failed` is true.
    #[inline]
    pub fn failed_if(&self, failed: bool) {
        if failed {
            self.failed.set(true);
        }
    }

    #[inline(never)]
    fn record(&mut self, start: u64) {
        let outcome = if std::thread::panicking() {
            Outcome::Fault
        } else if self.failed.get() {
            Outcome::Error
        } else {
            Outcome::Ok
        };
        let end = clock::ticks();
        self.site
            .series(outcome)
            .record(end.saturating_sub(start), end, self.span);
    }
}

impl Drop for CallMeter {
    #[inline]
    fn drop(&mut self) {
        if let Some(start) = self.start.take() {
            self.record(start);
        }
    }
}

pin_project! {
    /// A metered future: its call is recorded when it completes (`error`
    /// when `is_error` says so of its output), when it panics (`fault`), or
    /// when it is dropped unfinished (`error`: its caller gave up).
    #[doc(hidden)]
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct Metered<F, C> {
        #[pin]
        future: F,
        meter: Option<CallMeter>,
        is_error: Option<C>,
    }

    impl<F, C> PinnedDrop for Metered<F, C> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(meter) = this.project().meter.take() {
                meter.failed_if(true);
            }
        }
    }
}

impl<F, C> Metered<F, C>
where
    F: Future,
    C: FnOnce(&F::Output) -> bool,
{
    pub(crate) fn new(meter: CallMeter, future: F, is_error: C) -> Self {
        Self {
            future,
            meter: Some(meter),
            is_error: Some(is_error),
        }
    }
}

impl<F, C> Future for Metered<F, C>
where
    F: Future,
    C: FnOnce(&F::Output) -> bool,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let output = this.future.poll(task);
        if let Poll::Ready(value) = &output
            && let Some(meter) = this.meter.take()
        {
            if let Some(is_error) = this.is_error.take() {
                meter.failed_if(is_error(value));
            }
            drop(meter);
        }
        output
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::switch;
    use crate::traced;

    /// What the calls of `function` recorded, by outcome.
    fn taken(function: &str) -> [u64; 3] {
        let name = format!("xray_runtime::metrics::meter::tests::{function}");
        Outcome::ALL.map(|outcome| {
            CALLS
                .series(vec![
                    KeyValue::new(FUNCTION_KEY, name.clone()),
                    KeyValue::new(OUTCOME_KEY, outcome.name()),
                ])
                .take()
                .count()
        })
    }

    #[traced(metrics)]
    fn pay(amount: u32) -> Result<u32, String> {
        if amount == 0 {
            return Err("nothing to pay".into());
        }
        assert!(amount < 1000, "too much");
        Ok(amount)
    }

    #[traced(metrics, err = false)]
    fn probe(up: bool) -> Result<(), ()> {
        if up { Ok(()) } else { Err(()) }
    }

    #[traced(metrics)]
    async fn fetch(amount: u32) -> Result<u32, String> {
        tokio::task::yield_now().await;
        if amount == 0 {
            return Err("nothing".into());
        }
        assert!(amount < 1000, "too much");
        Ok(amount)
    }

    #[cfg(not(feature = "disabled"))]
    #[test]
    fn synchronous_calls_are_counted_by_outcome() {
        switch::on();
        taken("pay");
        let _ = pay(1);
        let _ = pay(2);
        let _ = pay(0);
        let panicked = std::panic::catch_unwind(|| pay(5000));
        assert!(panicked.is_err());
        assert_eq!(taken("pay"), [2, 1, 1], "ok, error, fault");
        let _ = probe(false);
        assert_eq!(
            taken("probe"),
            [1, 0, 0],
            "err = false: an Err is no failure"
        );
    }

    #[cfg(not(feature = "disabled"))]
    #[tokio::test]
    async fn futures_are_counted_when_they_end() {
        switch::on();
        taken("fetch");
        let _ = fetch(1).await;
        let _ = fetch(0).await;
        let panicked = tokio::spawn(fetch(5000)).await;
        assert!(panicked.is_err());
        // Polled once, then dropped by its caller: cancelled.
        let mut cancelled = Box::pin(fetch(3));
        let waker = std::task::Waker::noop();
        assert!(
            cancelled
                .as_mut()
                .poll(&mut TaskContext::from_waker(waker))
                .is_pending()
        );
        drop(cancelled);
        // Never polled: an `async fn`'s body (and span) never started.
        drop(fetch(4));
        assert_eq!(
            taken("fetch"),
            [1, 2, 1],
            "ok, error (one cancelled), fault"
        );
    }

    /// With tracing compiled out (`disabled`), `metrics` is compiled out
    /// with it: the calls run and record nothing.
    #[cfg(feature = "disabled")]
    #[tokio::test]
    async fn compiled_out_calls_record_nothing() {
        switch::on();
        let _ = pay(1);
        let _ = pay(0);
        let _ = probe(false);
        let _ = fetch(1).await;
        let _ = fetch(0).await;
        assert_eq!(taken("pay"), [0, 0, 0]);
        assert_eq!(taken("probe"), [0, 0, 0]);
        assert_eq!(taken("fetch"), [0, 0, 0]);
    }
}
