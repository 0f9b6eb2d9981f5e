//! The installation: [`init`] resolves the configuration, starts the export
//! thread (and the log and metric pipelines), installs the OpenTelemetry
//! globals (tracer provider, propagator) and turns the span path on; the
//! [`Guard`] it returns flushes and shuts everything down. [`flush`]
//! exports what has ended so far.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use opentelemetry::propagation::{
    Extractor, Injector, TextMapCompositePropagator, TextMapPropagator,
    text_map_propagator::FieldIter,
};
use opentelemetry::trace::{SpanBuilder, Tracer, TracerProvider};
use opentelemetry::{Context, InstrumentationScope, Key, KeyValue, global};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::BaggagePropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

use crate::clock;
use crate::collector::{Collector, ExporterSpec};
use crate::config::{Config, ExporterKind, PropagatorKind, Resolved, process_env};
use crate::export::{BoxedExporter, ConsoleExporter, JsonExporter};
use crate::flush_error::FlushError;
use crate::fork;
use crate::id::XrayIdGenerator;
use crate::origin;
use crate::propagation::{TraceContext, XrayPropagator};
use crate::resource::{self, CLOUD_PLATFORM};
use crate::sampler::{self, XraySampler};
#[cfg(feature = "xray-sampler")]
use crate::sampling_rules;
use crate::signal_pipelines::{self, AllSignals, SignalPipelines};
use crate::signals::SignalStats;
use crate::span::current::with_current_span;
use crate::span::error::install_panic_hook;
use crate::state;
use crate::stats::{self, Loss, Stats};

/// Threads that may each hold a part-filled block of the export queue on
/// top of the queue's own room (`OTEL_BSP_MAX_QUEUE_SIZE`): about 1 MiB.
const STAGING_THREADS: usize = 256;

/// The name and version every span's instrumentation scope carries.
pub(crate) const SCOPE_NAME: &str = "xray";

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
    install(config, resolved)
}

pub(crate) fn install(config: Config, resolved: Resolved) -> Guard {
    install_panic_hook();
    fork::install_handlers();
    let at_install = stats::stats();
    let signals_at_install = (crate::logs::stats(), crate::metrics::stats());
    let previous = state::pipeline();
    let generation = state::next_generation();
    if let Some(previous) = previous {
        // Its spans are its to export; the queues are ours from now on
        // (ours that it drains, it hands over).
        previous.retire();
    }
    if resolved.disabled {
        state::disable();
        #[cfg(feature = "xray-sampler")]
        sampling_rules::uninstall();
        // Spans of this installation ended before tracing went off.
        stats::lose(Loss::Superseded, state::take_handed_over().len() as u64);
        // Nor logs or metrics.
        signal_pipelines::stop_all();
        return Guard::inert();
    }

    let notice = resolved.exporter_fell_back && config.custom_exporter.is_none();
    let exporters = exporter_specs(config.custom_exporter, &resolved);
    if notice {
        eprintln!(
            "xray: no exporter configured; printing traces to stdout. Set OTEL_EXPORTER_OTLP_ENDPOINT \
             (or OTEL_TRACES_EXPORTER=otlp) to send them to a collector, or OTEL_TRACES_EXPORTER=none to silence them"
        );
    }

    let resource = resource(&resolved);
    let cloud_platform = resource
        .get(&Key::from_static_str(CLOUD_PLATFORM))
        .map(|value| value.as_str().into_owned());
    origin::set_cloud_platform(cloud_platform.as_deref());
    let detection = resource::start(resolved.detection.clone());
    if let (Some(detection), None) = (&detection, cloud_platform) {
        // Where the service runs, once detected (`OTEL_RESOURCE_ATTRIBUTES`
        // naming a platform wins).
        detection.when_done(move |detected| {
            let platform = detected
                .iter()
                .find(|kv| kv.key.as_str() == CLOUD_PLATFORM)
                .map(|kv| kv.value.as_str().into_owned());
            if platform.is_some() && state::is_current(generation) {
                origin::set_cloud_platform(platform.as_deref());
            }
        });
    }
    let scope = InstrumentationScope::builder(SCOPE_NAME)
        .with_version(env!("CARGO_PKG_VERSION"))
        .build();
    let limits = resolved.limits;
    clock::init(resolved.clock);
    state::size_queues(limits.max_queue, limits.max_batch, STAGING_THREADS);
    let signals = Arc::new(SignalPipelines::start(
        resolved.logs,
        resolved.metrics,
        &resource,
        &scope,
    ));
    let collector = Arc::new(Collector::start(
        generation, limits, exporters, &resource, detection, scope,
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

    #[cfg(feature = "xray-sampler")]
    match &resolved.sampling {
        Some(settings) => sampling_rules::install(settings, &resolved.service_name),
        None => sampling_rules::uninstall(),
    }
    sampler::install(resolved.sampler);
    let all = Arc::new(AllSignals {
        collector: collector.clone(),
        signals: signals.clone(),
    });
    state::enable(all.clone(), resolved.shutdown_timeout);
    Guard {
        installed: Some(Installed {
            collector,
            provider,
            all,
        }),
        generation,
        timeout: resolved.shutdown_timeout,
        done: AtomicBool::new(false),
        at_install,
        signals_at_install,
        pid: std::process::id(),
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
                PropagatorKind::TraceContext => Box::new(TraceContext::new()),
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
        match with_current_span(cx) {
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
        state::mark_otel_api_used();
        match with_current_span(parent_cx) {
            Some(cx) => self.0.build_with_context(builder, &cx),
            None => self.0.build_with_context(builder, parent_cx),
        }
    }
}

fn exporter_specs(custom: Option<BoxedExporter>, resolved: &Resolved) -> Vec<ExporterSpec> {
    if let Some(custom) = custom {
        return vec![ExporterSpec::Spans(custom)];
    }
    resolved
        .exporters
        .iter()
        .filter_map(|kind| match kind {
            ExporterKind::Console => Some(ExporterSpec::Spans(BoxedExporter::named(
                ConsoleExporter::stdout(),
                "console",
            ))),
            ExporterKind::Json => Some(ExporterSpec::Spans(BoxedExporter::named(
                JsonExporter::stdout(),
                "json",
            ))),
            ExporterKind::Otlp => Some(ExporterSpec::Otlp(Box::new(resolved.otlp.clone()))),
            ExporterKind::Xray => Some(ExporterSpec::Otlp(Box::new(resolved.xray.clone()))),
            ExporterKind::None => None,
        })
        .collect()
}

struct Installed {
    collector: Arc<Collector>,
    provider: SdkTracerProvider,
    /// The spans' export thread with the log and metric pipelines.
    all: Arc<AllSignals>,
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
    /// The counters when it was installed: shutdown reports what changed.
    at_install: Stats,
    /// The logs' and metrics' counters then.
    signals_at_install: (SignalStats, SignalStats),
    /// The process it was installed in: in a child after `fork()`, the
    /// guard inherited from the parent does nothing.
    pid: u32,
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

impl Guard {
    fn inert() -> Self {
        Self {
            installed: None,
            generation: 0,
            timeout: Duration::ZERO,
            done: AtomicBool::new(true),
            at_install: Stats::default(),
            signals_at_install: Default::default(),
            pid: std::process::id(),
        }
    }

    /// Whether spans are being recorded (false when `OTEL_SDK_DISABLED=true`).
    pub fn is_active(&self) -> bool {
        self.installed.is_some() && !self.done.load(Ordering::Acquire)
    }

    /// Exports every span ended so far, and the log records and metrics,
    /// waiting for the exporters (at most the shutdown timeout). The result
    /// is the spans'; log and metric losses are counted in
    /// [`logs::stats`](crate::logs::stats) and
    /// [`metrics::stats`](crate::metrics::stats).
    pub fn flush(&self) -> Result<(), FlushError> {
        match &self.installed {
            Some(installed) if !self.done.load(Ordering::Acquire) => installed
                .all
                .flush_all(self.timeout.max(Duration::from_millis(100))),
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
        if std::process::id() != self.pid {
            // A child after `fork()`: the export thread is the parent's.
            return Ok(());
        }
        let current = state::is_current(self.generation);
        if current {
            state::disable();
            #[cfg(feature = "xray-sampler")]
            sampling_rules::uninstall();
        }
        // Logs and metrics export their last batches while the spans do.
        let signals = &installed.all.signals;
        let pending = signals.begin_stop(Instant::now() + self.timeout, current);
        let result = installed.collector.shutdown(self.timeout);
        let _ = installed
            .provider
            .shutdown_with_timeout(Duration::from_millis(10));
        let signals_done = signal_pipelines::wait_all(pending);
        report_losses(&self.at_install);
        if !signals.is_empty() {
            if !signals_done {
                eprintln!(
                    "xray: at shutdown: log records or metrics were still being exported after {} ms",
                    self.timeout.as_millis()
                );
            }
            let (logs, metrics) = &self.signals_at_install;
            signal_pipelines::report_losses(logs, metrics);
        }
        result
    }
}

/// Says on stderr what was lost since `at_install`, and what is still open.
fn report_losses(at_install: &Stats) {
    let now = stats::stats();
    let since = now.since(at_install);
    if since.lost() > 0 {
        eprintln!("xray: at shutdown: spans {since}");
    }
    if now.open > 0 {
        eprintln!(
            "xray: {} spans were still open at shutdown; they are not exported",
            now.open
        );
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        match self.shutdown() {
            // Failures and losses were already said, and counted in the
            // shutdown's report.
            Ok(()) | Err(FlushError::Export(_) | FlushError::Lost(_)) => {}
            Err(err) => eprintln!("xray: {err}"),
        }
    }
}

/// Exports every span ended so far through the installed provider, and the
/// log records and metrics.
///
/// Use it where a process may be frozen between units of work (AWS Lambda
/// after each invocation). Does nothing when no provider is installed.
pub fn flush() -> Result<(), FlushError> {
    state::flush_active()
}

#[cfg(all(test, feature = "aws", feature = "testing"))]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::config::fixed_env;

    #[test]
    fn the_detected_platform_becomes_the_origin() {
        let _turn = origin::TEST_TURN.lock().unwrap_or_else(|e| e.into_inner());
        let _installs = crate::state::TEST_INSTALLS
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        origin::set_cloud_platform(None);
        let config = || Config::new().exporter(ExporterKind::None);
        let env = fixed_env(&[("AWS_LAMBDA_FUNCTION_NAME", "resize")]);
        let guard = install(config(), Resolved::new(&config(), &env));
        let deadline = Instant::now() + Duration::from_secs(5);
        while origin::get().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(origin::get(), Some("AWS::Lambda::Function"));
        drop(guard);
        origin::set_cloud_platform(None);
    }
}
