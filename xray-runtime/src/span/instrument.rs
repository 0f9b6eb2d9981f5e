//! A future run inside a span: the span is current during every poll and
//! ends when the future completes or is dropped.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use opentelemetry::KeyValue;
use pin_project_lite::pin_project;

use crate::record::CANCELLED_KEY;
use crate::span::guard::{ActiveSpan, PendingSpan};
use crate::span::stack::{self, Frame, PopInto};

pin_project! {
    /// A future polled inside its span. Nothing thread-bound is held between
    /// polls, so the future stays `Send` when the wrapped future is.
    #[doc(hidden)]
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct Instrumented<F, O> {
        #[pin]
        future: F,
        frame: Option<Frame>,
        on_outcome: Option<O>,
    }

    impl<F, O> PinnedDrop for Instrumented<F, O> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(mut frame) = this.project().frame.take() {
                // Dropped before completion, and not by a panic: the caller gave up.
                if !std::thread::panicking() && frame.sampled {
                    frame
                        .extra()
                        .attributes
                        .push(KeyValue::new(CANCELLED_KEY, true));
                }
                frame.finish();
            }
        }
    }
}

impl<F, O> Instrumented<F, O>
where
    F: Future,
    O: FnOnce(&ActiveSpan, &F::Output),
{
    pub(crate) fn new(span: PendingSpan, future: F, on_outcome: O) -> Self {
        Self {
            future,
            frame: span.frame,
            on_outcome: Some(on_outcome),
        }
    }
}

impl<F, O> Future for Instrumented<F, O>
where
    F: Future,
    O: FnOnce(&ActiveSpan, &F::Output),
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let Some(frame) = this.frame.take() else {
            return this.future.poll(task);
        };
        if !stack::push_or_keep(frame, &mut *this.frame) {
            return this.future.poll(task);
        }
        let back = PopInto {
            slot: &mut *this.frame,
        };
        let output = this.future.poll(task);
        if let Poll::Ready(value) = &output
            && let Some(on_outcome) = this.on_outcome.take()
        {
            on_outcome(&ActiveSpan { current: true }, value);
        }
        drop(back);
        if output.is_ready()
            && let Some(frame) = this.frame.take()
        {
            frame.finish();
        }
        output
    }
}
