//! Spawning work on other threads and tasks with the current span as parent.

use crate::span::current_span;

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
