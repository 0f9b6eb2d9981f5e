//! Carrying the current span to other threads and tasks: [`SpanHandle`],
//! and spawn functions that carry it for you.
//!
//! Spans are current per thread, so work moved elsewhere (a spawned task, a
//! thread, a blocking pool) starts without a parent unless it is carried.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use opentelemetry::Context;
use pin_project_lite::pin_project;

use crate::span::current::{current_remote, current_span_context};
use crate::span::stack::{self, Frame};

/// The span that is current where this handle was taken, to make it the
/// parent of work done on another thread or task.
///
/// Spans are current per thread, so work moved elsewhere (a spawned task, a
/// thread, a blocking pool) starts without a parent unless it is carried:
/// [`spawn`](crate::spawn), [`spawn_blocking`](crate::spawn_blocking) and
/// [`thread::spawn`](crate::thread::spawn) do it for you.
///
/// ```
/// use xray_runtime::traced;
///
/// #[traced]
/// fn fan_out() -> u32 {
///     let parent = xray_runtime::current_span();
///     std::thread::spawn(move || parent.in_scope(work)).join().unwrap()
/// }
///
/// #[traced]
/// fn work() -> u32 {
///     7
/// }
///
/// let capture = xray_runtime::testing::capture();
/// fan_out();
/// let (parent, child) = (capture.span("fan_out"), capture.span("work"));
/// assert_eq!(child.parent_span_id.as_deref(), Some(parent.span_id.as_str()));
/// ```
#[derive(Clone, Debug, Default)]
pub struct SpanHandle {
    parent: Option<Carried>,
}

#[derive(Clone, Debug)]
struct Carried {
    trace_id: u128,
    span_id: u64,
    sampled: bool,
    remote: Option<Context>,
}

/// The current span, to carry to another thread or task.
pub fn current_span() -> SpanHandle {
    let parent = current_span_context().map(|sc| Carried {
        trace_id: u128::from_be_bytes(sc.trace_id().to_bytes()),
        span_id: u64::from_be_bytes(sc.span_id().to_bytes()),
        sampled: sc.is_sampled(),
        remote: current_remote(),
    });
    SpanHandle { parent }
}

impl SpanHandle {
    fn proxy_frame(&self) -> Option<Frame> {
        let parent = self.parent.as_ref()?;
        Some(Frame::proxy(
            parent.trace_id,
            parent.span_id,
            parent.sampled,
            parent.remote.clone(),
        ))
    }

    /// Runs `f` with this span as the current span: spans `f` starts are its
    /// children.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Pop(bool);
        impl Drop for Pop {
            fn drop(&mut self) {
                if self.0 {
                    let _ = stack::pop();
                }
            }
        }
        let _pop = Pop(self.proxy_frame().is_some_and(stack::push));
        f()
    }

    /// Wraps `future` so that this span is current whenever it is polled.
    pub fn instrument<F: Future>(self, future: F) -> WithSpan<F> {
        WithSpan {
            future,
            handle: self,
        }
    }
}

pin_project! {
    /// A future polled with a carried span as the current span; see
    /// [`SpanHandle::instrument`].
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct WithSpan<F> {
        #[pin]
        future: F,
        handle: SpanHandle,
    }
}

impl<F: Future> Future for WithSpan<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let future = this.future;
        this.handle.in_scope(|| future.poll(task))
    }
}

/// Spawns a tokio task whose spans are children of the current span.
///
/// Like `tokio::spawn`; must be called from within a tokio runtime.
#[cfg(feature = "tokio")]
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(current_span().instrument(future))
}

/// Runs `f` on tokio's blocking pool with the current span as parent.
///
/// Like `tokio::task::spawn_blocking`.
#[cfg(feature = "tokio")]
pub fn spawn_blocking<F, R>(f: F) -> tokio::task::JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let parent = current_span();
    tokio::task::spawn_blocking(move || parent.in_scope(f))
}

/// Threads that carry the current span.
pub mod thread {
    use super::current_span;

    /// Spawns an OS thread whose spans are children of the current span.
    ///
    /// Like `std::thread::spawn`.
    ///
    /// ```
    /// use xray_runtime::traced;
    ///
    /// #[traced]
    /// fn parent() -> u8 {
    ///     xray_runtime::thread::spawn(child).join().unwrap()
    /// }
    ///
    /// #[traced]
    /// fn child() -> u8 {
    ///     1
    /// }
    ///
    /// let capture = xray_runtime::testing::capture();
    /// parent();
    /// let child = capture.span("child");
    /// assert_eq!(child.parent_span_id, Some(capture.span("parent").span_id));
    /// ```
    pub fn spawn<F, T>(f: F) -> std::thread::JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let parent = current_span();
        std::thread::spawn(move || parent.in_scope(f))
    }
}
