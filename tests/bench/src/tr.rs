//! Configuration 3: `tracing`'s `#[instrument]` with the default
//! `tracing-opentelemetry` layer over the OpenTelemetry SDK.

use opentelemetry::trace::TracerProvider;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_subscriber::layer::SubscriberExt;

use crate::{DropExporter, body};

/// One span around the body. `skip_all`: like `#[traced]` without `args`,
/// no argument is recorded.
#[tracing::instrument(name = "bench_span", skip_all)]
#[inline(never)]
pub fn span(x: u64) -> u64 {
    body(x)
}

/// A parent with 10 children: 11 spans.
#[tracing::instrument(name = "bench_parent", skip_all)]
#[inline(never)]
pub fn nested(x: u64) -> u64 {
    let mut acc = body(x);
    for i in 0..10 {
        acc ^= span(x.wrapping_add(i));
    }
    acc
}

/// Builds a provider with `sampler` and the [`DropExporter`] behind the SDK's
/// batch processor, and installs `registry() + tracing_opentelemetry::layer()`
/// (all defaults) over it as the global default subscriber. Call once.
pub fn install(sampler: Sampler) -> SdkTracerProvider {
    let provider = SdkTracerProvider::builder()
        .with_sampler(sampler)
        .with_batch_exporter(DropExporter)
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("xray-bench"));
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::set_global_default(subscriber).expect("tr::install runs once per process");
    provider
}
