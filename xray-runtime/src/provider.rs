//! The global tracer provider: [`init`], [`Guard`] and [`flush`].

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use opentelemetry::propagation::{
    Extractor, Injector, TextMapCompositePropagator, TextMapPropagator,
    text_map_propagator::FieldIter,
};
use opentelemetry::trace::{
    Link, SpanBuilder, SpanKind, TraceContextExt, TraceId, Tracer, TracerProvider,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue, global};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::trace::{
    Sampler, SamplingDecision, SamplingResult, SdkTracer, SdkTracerProvider, ShouldSample,
};

use crate::collector::{Collector, Limits};
use crate::config::{Config, ExporterKind, PropagatorKind, Resolved, SamplerKind, process_env};
use crate::export::BoxedExporter;
use crate::export::console::ConsoleExporter;
use crate::export::json::JsonExporter;
use crate::id::XrayIdGenerator;
use crate::propagation::{IncomingXray, Sampling, XrayPropagator};

/// Fast check made by every instrumented call before anything else.
pub(crate) static ENABLED: AtomicBool = AtomicBool::new(false);
/// Which `init` installed the current provider: an old guard must not tear
/// down a newer installation, and spans of an old one are not exported by
/// the next.
static GENERATION: AtomicU32 = AtomicU32::new(0);
/// The running export thread.
static COLLECTOR: RwLock<Option<Arc<Collector>>> = RwLock::new(None);
/// How long [`flush`] may wait.
static FLUSH_TIMEOUT_MS: AtomicU64 = AtomicU64::new(5000);
/// The root sampler, read by every new trace: 0 always on, 1 always off,
/// 2 ratio (of `RATIO_BOUND`).
static ROOT_SAMPLER: AtomicU8 = AtomicU8::new(0);
static RATIO_BOUND: AtomicU64 = AtomicU64::new(0);
static PARENT_BASED: AtomicBool = AtomicBool::new(true);
static QUEUE_PER_THREAD: AtomicUsize = AtomicUsize::new(2048);
/// Set once the OpenTelemetry API has made a span through our tracer: from
/// then on, span starts also look at that API's current span.
static OTEL_API_USED: AtomicBool = AtomicBool::new(false);

#[inline]
pub(crate) fn otel_api_used() -> bool {
    OTEL_API_USED.load(Ordering::Relaxed)
}

/// The name and version every span's instrumentation scope carries.
pub(crate) const SCOPE_NAME: &str = "xray";

#[inline]
pub(crate) fn generation() -> u32 {
    GENERATION.load(Ordering::Relaxed)
}

/// How many finished spans each thread may queue for export.
#[inline]
pub(crate) fn queue_per_thread() -> usize {
    QUEUE_PER_THREAD.load(Ordering::Relaxed)
}

pub(crate) fn nudge_collector() {
    if let Some(collector) = COLLECTOR.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        collector.nudge();
    }
}

/// Whether callers' sampling decisions are followed.
#[inline]
pub(crate) fn parent_based() -> bool {
    PARENT_BASED.load(Ordering::Relaxed)
}

/// The root sampler's decision for a new trace. A ratio compares the low 63
/// bits of the (random part of the) trace id, as OpenTelemetry's
/// `TraceIdRatioBased` does, so both paths agree.
#[inline]
pub(crate) fn sample_root(trace_id: u128) -> bool {
    match ROOT_SAMPLER.load(Ordering::Relaxed) {
        0 => true,
        1 => false,
        _ => ((trace_id as u64) >> 1) < RATIO_BOUND.load(Ordering::Relaxed),
    }
}

fn set_sampler(kind: SamplerKind) {
    let (mode, ratio) = match kind {
        SamplerKind::AlwaysOn | SamplerKind::ParentBasedAlwaysOn => (0, 1.0),
        SamplerKind::AlwaysOff | SamplerKind::ParentBasedAlwaysOff => (1, 0.0),
        SamplerKind::TraceIdRatio(r) | SamplerKind::ParentBasedTraceIdRatio(r) => (2, r),
    };
    RATIO_BOUND.store(
        (ratio.clamp(0.0, 1.0) * (1u64 << 63) as f64) as u64,
        Ordering::Relaxed,
    );
    ROOT_SAMPLER.store(mode, Ordering::Relaxed);
    PARENT_BASED.store(kind.parent_based(), Ordering::Relaxed);
}

/// Installs the global tracer provider and returns the guard that flushes it.
///
/// This is what `#[xray_main]` calls; use it directly where an attribute on
/// `main` is not possible (libraries' tests, custom runtimes). Environment
/// variables override the [`Config`] (see the crate documentation). Calling
/// `init` again replaces the previous installation. `init` never fails: a
/// setting that cannot be honoured is reported on stderr and the fallback is used.
///
/// Keep the guard alive for the life of the program: dropping it flushes
/// every ended span and shuts the exporters down, within the shutdown timeout.
///
/// ```
/// use xray_runtime::{Config, ExporterKind};
///
/// let guard = xray_runtime::init(Config::new().service_name("demo").exporter(ExporterKind::None));
/// // ... traced work ...
/// drop(guard); // flushes
/// ```
pub fn init(config: Config) -> Guard {
    let resolved = Resolved::new(&config, &process_env);
    install(config, resolved, Limits::from_env(&process_env))
}

pub(crate) fn install(config: Config, resolved: Resolved, limits: Limits) -> Guard {
    crate::span::install_panic_hook();
    let generation = GENERATION.fetch_add(1, Ordering::AcqRel).wrapping_add(1);
    ENABLED.store(false, Ordering::Release);
    if resolved.disabled {
        *COLLECTOR.write().unwrap_or_else(|e| e.into_inner()) = None;
        return Guard::inert();
    }

    let mut runtime = None;
    let notice = resolved.exporter_fell_back && config.custom_exporter.is_none();
    let exporters = build_exporters(config.custom_exporter, &resolved, &mut runtime);
    if notice {
        eprintln!(
            "xray: no exporter configured; printing traces to stdout. Set OTEL_EXPORTER_OTLP_ENDPOINT \
             (or OTEL_TRACES_EXPORTER=otlp) to send them to a collector, or OTEL_TRACES_EXPORTER=none to silence them"
        );
    }

    let resource = resource(&resolved);
    let scope = InstrumentationScope::builder(SCOPE_NAME)
        .with_version(env!("CARGO_PKG_VERSION"))
        .build();
    let collector = Arc::new(Collector::start(
        generation, limits, exporters, &resource, scope,
    ));

    // Spans made through the OpenTelemetry API leave through the same thread.
    let provider = SdkTracerProvider::builder()
        .with_id_generator(XrayIdGenerator::default())
        .with_sampler(XraySampler::new(resolved.sampler))
        .with_resource(resource)
        .with_span_processor(collector.processor())
        .build();
    global::set_tracer_provider(XrayTracerProvider(provider.clone()));
    global::set_text_map_propagator(CurrentSpanPropagator(propagator(&resolved.propagators)));

    set_sampler(resolved.sampler);
    QUEUE_PER_THREAD.store(limits.queue_per_thread, Ordering::Relaxed);
    FLUSH_TIMEOUT_MS.store(
        resolved.shutdown_timeout.as_millis() as u64,
        Ordering::Relaxed,
    );
    *COLLECTOR.write().unwrap_or_else(|e| e.into_inner()) = Some(collector.clone());
    ENABLED.store(true, Ordering::Release);
    Guard {
        installed: Some(Installed {
            collector,
            provider,
            runtime: Mutex::new(runtime),
        }),
        generation,
        timeout: resolved.shutdown_timeout,
        done: AtomicBool::new(false),
    }
}

fn resource(resolved: &Resolved) -> Resource {
    let mut builder = Resource::builder().with_service_name(resolved.service_name.clone());
    if let Some(version) = &resolved.service_version {
        builder = builder.with_attribute(KeyValue::new("service.version", version.clone()));
    }
    builder.build()
}

pub(crate) fn propagator(kinds: &[PropagatorKind]) -> TextMapCompositePropagator {
    let propagators = kinds
        .iter()
        .map(|kind| -> Box<dyn TextMapPropagator + Send + Sync> {
            match kind {
                PropagatorKind::Xray => Box::new(XrayPropagator::new()),
                PropagatorKind::XrayLambda => Box::new(XrayPropagator::lambda()),
                PropagatorKind::TraceContext => Box::new(TraceContextPropagator::new()),
                PropagatorKind::Baggage => Box::new(BaggagePropagator::new()),
            }
        })
        .collect();
    TextMapCompositePropagator::new(propagators)
}

/// The global propagator: the configured ones, injecting the current traced
/// span when the context given has none (the traced span is current for our
/// macros without being attached to the OpenTelemetry context).
#[derive(Debug)]
struct CurrentSpanPropagator(TextMapCompositePropagator);

impl TextMapPropagator for CurrentSpanPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        match crate::span::with_current_span(cx) {
            Some(cx) => self.0.inject_context(&cx, injector),
            None => self.0.inject_context(cx, injector),
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        self.0.extract_with_context(cx, extractor)
    }

    fn fields(&self) -> FieldIter<'_> {
        self.0.fields()
    }
}

/// The global tracer provider: the SDK's, with spans started under a traced
/// span (and no span of the OpenTelemetry context) parented on it.
#[derive(Clone, Debug)]
struct XrayTracerProvider(SdkTracerProvider);

impl TracerProvider for XrayTracerProvider {
    type Tracer = XrayTracer;

    fn tracer_with_scope(&self, scope: InstrumentationScope) -> XrayTracer {
        XrayTracer(self.0.tracer_with_scope(scope))
    }
}

#[derive(Clone, Debug)]
struct XrayTracer(SdkTracer);

impl Tracer for XrayTracer {
    type Span = <SdkTracer as Tracer>::Span;

    fn build_with_context(&self, builder: SpanBuilder, parent_cx: &Context) -> Self::Span {
        if !OTEL_API_USED.load(Ordering::Relaxed) {
            OTEL_API_USED.store(true, Ordering::Relaxed);
        }
        match crate::span::with_current_span(parent_cx) {
            Some(cx) => self.0.build_with_context(builder, &cx),
            None => self.0.build_with_context(builder, parent_cx),
        }
    }
}

/// The runtime that drives the gRPC client (tonic needs one, whatever the
/// application itself runs on).
#[cfg(feature = "otlp-grpc")]
pub(crate) type ExportRuntime = tokio::runtime::Runtime;
#[cfg(not(feature = "otlp-grpc"))]
pub(crate) type ExportRuntime = ();

fn build_exporters(
    custom: Option<BoxedExporter>,
    resolved: &Resolved,
    runtime: &mut Option<ExportRuntime>,
) -> Vec<BoxedExporter> {
    if let Some(custom) = custom {
        return vec![custom];
    }
    let mut exporters = Vec::new();
    for kind in &resolved.exporters {
        match kind {
            ExporterKind::Console => {
                exporters.push(BoxedExporter::named(ConsoleExporter::stdout(), "console"))
            }
            ExporterKind::Json => {
                exporters.push(BoxedExporter::named(JsonExporter::stdout(), "json"))
            }
            ExporterKind::None => {}
            ExporterKind::Otlp => match crate::export::otlp::build(resolved, runtime) {
                Ok(exporter) => exporters.push(exporter),
                Err(why) => eprintln!(
                    "xray: could not set up the OTLP exporter ({why}); spans will not be exported"
                ),
            },
        }
    }
    exporters
}

struct Installed {
    collector: Arc<Collector>,
    provider: SdkTracerProvider,
    runtime: Mutex<Option<ExportRuntime>>,
}

/// Keeps the provider installed; dropping it flushes and shuts down.
///
/// Returned by [`init`] (and held by `#[xray_main]` for the whole of `main`).
/// [`Guard::shutdown`] may be called early; it and the drop are idempotent and
/// never panic, and they return within the shutdown timeout even when the
/// collector is unreachable.
#[must_use = "dropping the guard shuts tracing down at once"]
pub struct Guard {
    installed: Option<Installed>,
    generation: u32,
    timeout: Duration,
    done: AtomicBool,
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("active", &self.installed.is_some())
            .field("timeout", &self.timeout)
            .field("done", &self.done.load(Ordering::Relaxed))
            .finish()
    }
}

/// Why a flush or shutdown did not complete.
#[derive(Debug)]
pub struct FlushError(String);

impl fmt::Display for FlushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spans may not all have been exported: {}", self.0)
    }
}

impl std::error::Error for FlushError {}

impl Guard {
    fn inert() -> Self {
        Self {
            installed: None,
            generation: 0,
            timeout: Duration::ZERO,
            done: AtomicBool::new(true),
        }
    }

    /// Whether spans are being recorded (false when `OTEL_SDK_DISABLED=true`).
    pub fn is_active(&self) -> bool {
        self.installed.is_some() && !self.done.load(Ordering::Acquire)
    }

    /// Exports every span ended so far, waiting for the exporters (at most
    /// the shutdown timeout).
    pub fn flush(&self) -> Result<(), FlushError> {
        match &self.installed {
            Some(installed) if !self.done.load(Ordering::Acquire) => installed
                .collector
                .flush(self.timeout.max(Duration::from_millis(100)))
                .map_err(FlushError),
            _ => Ok(()),
        }
    }

    /// Flushes and shuts down now, within the shutdown timeout. Later calls,
    /// and the drop, do nothing.
    pub fn shutdown(&self) -> Result<(), FlushError> {
        if self.done.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let Some(installed) = &self.installed else {
            return Ok(());
        };
        if GENERATION.load(Ordering::Acquire) == self.generation {
            ENABLED.store(false, Ordering::Release);
            *COLLECTOR.write().unwrap_or_else(|e| e.into_inner()) = None;
        }
        let result = installed.collector.shutdown(self.timeout);
        let _ = installed
            .provider
            .shutdown_with_timeout(Duration::from_millis(10));
        if let Some(runtime) = installed
            .runtime
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            shutdown_runtime(runtime);
        }
        result.map_err(FlushError)
    }
}

#[cfg(feature = "otlp-grpc")]
fn shutdown_runtime(runtime: ExportRuntime) {
    // Never blocks, so it is safe inside an async main as well.
    runtime.shutdown_background();
}
#[cfg(not(feature = "otlp-grpc"))]
fn shutdown_runtime(_runtime: ExportRuntime) {}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Err(err) = self.shutdown() {
            eprintln!("xray: {err}");
        }
    }
}

/// Exports every span ended so far through the installed provider.
///
/// Use it where a process may be frozen between units of work (AWS Lambda
/// after each invocation). Does nothing when no provider is installed.
pub fn flush() -> Result<(), FlushError> {
    let collector = COLLECTOR.read().unwrap_or_else(|e| e.into_inner()).clone();
    match collector {
        Some(collector) => {
            let wait = Duration::from_millis(FLUSH_TIMEOUT_MS.load(Ordering::Relaxed).max(100));
            collector.flush(wait).map_err(FlushError)
        }
        None => Ok(()),
    }
}

/// The sampler: the configured one, made aware of X-Ray headers.
///
/// Parent-based sampling follows a caller's decision, except when the caller
/// deferred it (`Sampled=?`, or no `Sampled` field): then this service decides
/// as for a new trace. A Root-only header (no `Parent`) with an explicit
/// decision is followed too.
#[derive(Clone, Debug)]
pub(crate) struct XraySampler {
    root: Sampler,
    parent_based: bool,
}

impl XraySampler {
    pub(crate) fn new(kind: SamplerKind) -> Self {
        let root = match kind {
            SamplerKind::AlwaysOn | SamplerKind::ParentBasedAlwaysOn => Sampler::AlwaysOn,
            SamplerKind::AlwaysOff | SamplerKind::ParentBasedAlwaysOff => Sampler::AlwaysOff,
            SamplerKind::TraceIdRatio(r) | SamplerKind::ParentBasedTraceIdRatio(r) => {
                Sampler::TraceIdRatioBased(r)
            }
        };
        Self {
            root,
            parent_based: kind.parent_based(),
        }
    }

    /// The caller's decision in `parent` (an extracted remote context or a
    /// local parent), when there is one to follow: both span paths (ours and
    /// the SDK's) decide with this. `None` when the caller deferred the
    /// decision (`Sampled=?` or no `Sampled`) or named no decision at all.
    pub(crate) fn inherited(parent: &Context) -> Option<bool> {
        let span_context = parent.span().span_context().clone();
        let incoming = parent.get::<IncomingXray>();
        if span_context.is_valid() {
            let deferred = span_context.is_remote()
                && incoming.is_some_and(|i| i.header.sampling.is_deferred());
            return (!deferred).then(|| span_context.is_sampled());
        }
        match incoming?.header.sampling {
            Sampling::Sampled => Some(true),
            Sampling::NotSampled => Some(false),
            Sampling::Requested | Sampling::Deferred => None,
        }
    }
}

impl ShouldSample for XraySampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        if self.parent_based
            && let Some(sampled) = parent_context.and_then(Self::inherited)
        {
            return SamplingResult {
                decision: if sampled {
                    SamplingDecision::RecordAndSample
                } else {
                    SamplingDecision::Drop
                },
                attributes: Vec::new(),
                trace_state: parent_context
                    .map(|cx| cx.span().span_context().trace_state().clone())
                    .unwrap_or_default(),
            };
        }
        self.root
            .should_sample(parent_context, trace_id, name, span_kind, attributes, links)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceState};

    fn decide(sampler: &XraySampler, parent: &Context) -> SamplingDecision {
        sampler
            .should_sample(
                Some(parent),
                TraceId::from(1u128),
                "s",
                &SpanKind::Internal,
                &[],
                &[],
            )
            .decision
    }

    fn remote(sampled: bool) -> Context {
        let flags = if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(7u128),
            SpanId::from(9u64),
            flags,
            true,
            TraceState::default(),
        ))
    }

    #[test]
    fn follows_the_callers_decision() {
        let sampler = XraySampler::new(SamplerKind::ParentBasedAlwaysOff);
        assert_eq!(
            decide(&sampler, &remote(true)),
            SamplingDecision::RecordAndSample
        );
        let sampler = XraySampler::new(SamplerKind::ParentBasedAlwaysOn);
        assert_eq!(decide(&sampler, &remote(false)), SamplingDecision::Drop);
        assert_eq!(
            decide(&sampler, &Context::new()),
            SamplingDecision::RecordAndSample
        );
    }

    #[test]
    fn a_deferred_decision_is_ours_to_make() {
        let header = crate::propagation::XrayHeader::parse(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?",
        )
        .expect("valid header");
        let parent = remote(false).with_value(IncomingXray { header });
        let on = XraySampler::new(SamplerKind::ParentBasedAlwaysOn);
        assert_eq!(decide(&on, &parent), SamplingDecision::RecordAndSample);
        let off = XraySampler::new(SamplerKind::ParentBasedAlwaysOff);
        assert_eq!(decide(&off, &parent), SamplingDecision::Drop);
    }

    #[test]
    fn root_only_header_decision_is_followed() {
        let header = crate::propagation::XrayHeader::parse(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0",
        )
        .expect("valid header");
        let parent = Context::new().with_value(IncomingXray { header });
        let sampler = XraySampler::new(SamplerKind::ParentBasedAlwaysOn);
        assert_eq!(decide(&sampler, &parent), SamplingDecision::Drop);
        let not_parent_based = XraySampler::new(SamplerKind::AlwaysOn);
        assert_eq!(
            decide(&not_parent_based, &parent),
            SamplingDecision::RecordAndSample
        );
    }
}
