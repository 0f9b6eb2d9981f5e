//! Configuration 4: the raw OpenTelemetry API over `opentelemetry_sdk`, the
//! sequence a macro could emit: `Context::current_with_span(tracer.start(NAME))`,
//! attach, body, `end()`, detach — with a concrete `SdkTracer` kept in a
//! static, or the global (no-op) tracer when no provider is installed.

use std::sync::{LazyLock, OnceLock};

use opentelemetry::global::{self, BoxedTracer};
use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, ContextGuard};
use opentelemetry_sdk::trace::{Sampler, SdkTracer, SdkTracerProvider};

use crate::{DropExporter, SPAN_NAME, body};

/// The tracer of [`install`].
static TRACER: OnceLock<SdkTracer> = OnceLock::new();

/// The global tracer; a no-op while no global provider is installed (this
/// module never installs one).
static GLOBAL: LazyLock<BoxedTracer> = LazyLock::new(|| global::tracer("xray-bench"));

/// Builds a provider with `sampler` and the [`DropExporter`] behind the SDK's
/// batch processor (default `BatchConfig`, `OTEL_BSP_*` variables apply),
/// and keeps its tracer in the static the span functions use. Call once.
pub fn install(sampler: Sampler) -> SdkTracerProvider {
    let provider = SdkTracerProvider::builder()
        .with_sampler(sampler)
        .with_batch_exporter(DropExporter)
        .build();
    use_provider(&provider);
    provider
}

/// Keeps a tracer of `provider` in the static the span functions use.
/// Call once per process (or [`install`]).
pub fn use_provider(provider: &SdkTracerProvider) {
    if TRACER.set(provider.tracer("xray-bench")).is_err() {
        panic!("otel::install or otel::use_provider called twice in one process");
    }
}

fn tracer() -> &'static SdkTracer {
    TRACER.get().expect("otel::install must run first")
}

#[inline(always)]
fn in_span<T>(tracer: &T, x: u64) -> u64
where
    T: Tracer,
    T::Span: Send + Sync + 'static,
{
    let cx = Context::current_with_span(tracer.start(SPAN_NAME));
    let guard = cx.clone().attach();
    let out = body(x);
    cx.span().end();
    drop(guard);
    out
}

/// One span on the concrete `SdkTracer` of [`install`].
#[inline(never)]
pub fn span(x: u64) -> u64 {
    in_span(tracer(), x)
}

/// One span on the global tracer (no-op: no provider installed).
#[inline(never)]
pub fn span_global(x: u64) -> u64 {
    in_span(&*GLOBAL, x)
}

/// A parent with 10 children on the `SdkTracer`: 11 spans.
#[inline(never)]
pub fn nested(x: u64) -> u64 {
    let cx = Context::current_with_span(tracer().start("bench_parent"));
    let guard = cx.clone().attach();
    let mut acc = body(x);
    for i in 0..10 {
        acc ^= span(x.wrapping_add(i));
    }
    cx.span().end();
    drop(guard);
    acc
}

/// A parent with 10 children on the global (no-op) tracer.
#[inline(never)]
pub fn nested_global(x: u64) -> u64 {
    let cx = Context::current_with_span(GLOBAL.start("bench_parent"));
    let guard = cx.clone().attach();
    let mut acc = body(x);
    for i in 0..10 {
        acc ^= span_global(x.wrapping_add(i));
    }
    cx.span().end();
    drop(guard);
    acc
}

/// A long-lived root span on the `SdkTracer`, current until the returned
/// guard is dropped (the root ends then).
pub fn enter_root() -> RootGuard {
    let cx = Context::current_with_span(tracer().start("bench_long_root"));
    let guard = cx.clone().attach();
    RootGuard {
        cx,
        _guard: Some(guard),
    }
}

/// See [`enter_root`].
pub struct RootGuard {
    cx: Context,
    _guard: Option<ContextGuard>,
}

impl Drop for RootGuard {
    fn drop(&mut self) {
        self.cx.span().end();
        self._guard.take();
    }
}
