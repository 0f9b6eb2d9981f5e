//! Spans made by the macros and by [`Span`], and helpers that act on the
//! current span.
//!
//! The hot path is ours rather than the OpenTelemetry SDK's: each thread
//! keeps a stack of open span frames (`stack`), ids come from a per-thread
//! generator, timestamps are clock ticks, and a finished sampled span is
//! written into the thread's ring for the export thread. A span without
//! dynamic attributes allocates nothing.
//!
//! * `stack`: the per-thread frames, and how a new span's ids and sampling
//!   decision follow from what is current;
//! * `guard`: what a traced call holds (the sync guard, a future's pending
//!   span, the attribute recorder);
//! * `instrument`: a future run inside its span;
//! * `error`: errors and panics as spans record them;
//! * `current`: the current span's ids and context, and helpers recording on it;
//! * `manual`: [`Span`], for spans named at run time.
//!
//! Code using the OpenTelemetry API inside a traced function still sees the
//! traced span as its parent: the global tracer and propagator installed by
//! [`init`](crate::init) consult the stack, and a span made current through
//! the OpenTelemetry API is in turn the parent of traced functions called
//! under it.

pub(crate) mod current;
pub(crate) mod error;
pub(crate) mod guard;
pub(crate) mod instrument;
pub(crate) mod manual;
pub(crate) mod stack;

pub use current::{
    InvalidAnnotationKey, add_event, annotate, current_context, current_span_id,
    current_trace_header, current_trace_id, is_valid_annotation_key, record_error, set_attribute,
    set_status_error,
};
pub use manual::Span;
