//! The metrics' export pipeline of one installation: a thread that
//! collects every series each export interval (and at a flush and at
//! shutdown) and hands the collection to the exporters.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::Resource;

use super::console::ConsoleMetrics;
use super::histogram::{self, ExemplarFilter, Recorded, Series};
use super::instruments::{ALL, Instrument};
use super::{STATS, switch};
use crate::clock::Converter;
use crate::signals::ExporterSpec;
use crate::signals::deliver::{Exporter, Exporters, start_exporters};
use crate::signals::worker::{Job, Pending, Worker};

/// Whether a data point covers the time since the previous export or
/// since the start (`OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Temporality {
    #[default]
    Cumulative,
    Delta,
}

/// The metrics' settings, as the configuration resolved them
/// (`OTEL_METRICS_EXPORTER`, `OTEL_METRIC_EXPORT_*`, ...).
#[derive(Clone, Debug)]
pub(crate) struct MetricsSettings {
    pub exporters: Vec<ExporterSpec>,
    /// How often metrics are exported.
    pub interval: Duration,
    /// How long one export may take.
    pub export_timeout: Duration,
    pub temporality: Temporality,
    pub exemplars: ExemplarFilter,
}

/// One series' data point of a collection, in clock ticks.
#[derive(Debug)]
pub(crate) struct Point {
    pub series: Arc<Series>,
    #[cfg_attr(
        not(any(feature = "otlp-grpc", feature = "otlp-http")),
        allow(dead_code)
    )]
    pub start: SystemTime,
    pub recorded: Recorded,
}

/// One instrument's data points.
#[derive(Debug)]
pub(crate) struct MetricData {
    pub instrument: &'static Instrument,
    pub points: Vec<Point>,
}

/// What one collection found.
#[derive(Debug)]
#[cfg_attr(
    not(any(feature = "otlp-grpc", feature = "otlp-http")),
    allow(dead_code)
)]
pub(crate) struct Collection {
    pub metrics: Vec<MetricData>,
    pub temporality: Temporality,
    /// When it was made.
    pub time: SystemTime,
    /// Converts the points' ticks.
    pub converter: Converter,
}

impl Collection {
    pub(crate) fn points(&self) -> u64 {
        self.metrics.iter().map(|m| m.points.len() as u64).sum()
    }
}

/// Collects the series of the instruments.
struct Collector {
    temporality: Temporality,
    /// When the pipeline started: the start of cumulative points.
    started: SystemTime,
    /// The previous collection: the start of delta points.
    last: SystemTime,
    /// Cumulative totals, by series.
    totals: HashMap<*const Series, Recorded>,
}

// SAFETY: the raw pointers are only compared, never dereferenced: they
// name series that live as long as the process (instruments never drop them).
unsafe impl Send for Collector {}

impl Collector {
    fn collect(&mut self, instruments: &[&'static Instrument]) -> Collection {
        let converter = Converter::now();
        histogram::update_bounds(&converter);
        let now = SystemTime::now();
        let mut metrics = Vec::new();
        for &instrument in instruments {
            let mut points = Vec::new();
            for series in instrument.all_series() {
                let taken = series.take();
                let (start, recorded) = match self.temporality {
                    Temporality::Delta => {
                        if taken.count() == 0 {
                            continue;
                        }
                        (self.last, taken)
                    }
                    Temporality::Cumulative => {
                        let total = self.totals.entry(Arc::as_ptr(&series)).or_default();
                        total.add(&taken);
                        if total.count() == 0 {
                            continue;
                        }
                        (self.started, total.clone())
                    }
                };
                points.push(Point {
                    series,
                    start,
                    recorded,
                });
            }
            if !points.is_empty() {
                metrics.push(MetricData { instrument, points });
            }
        }
        self.last = now;
        Collection {
            metrics,
            temporality: self.temporality,
            time: now,
            converter,
        }
    }
}

struct MetricJob {
    collector: Collector,
    exporters: Exporters<Collection>,
    interval: Duration,
    export_timeout: Duration,
    next: Instant,
}

impl MetricJob {
    fn export(&mut self, deadline: Instant) {
        let collection = self.collector.collect(&ALL);
        let points = collection.points();
        if points > 0 {
            self.exporters.deliver(&collection, points, deadline);
        }
        self.next = Instant::now() + self.interval;
    }
}

impl Job for MetricJob {
    fn run(&mut self, all: bool, deadline: Instant) {
        // A wake-up without a flush (none is sent) waits for the interval.
        if all || Instant::now() >= self.next {
            self.export(deadline);
        }
    }

    fn next_run(&self) -> Instant {
        self.next
    }

    fn export_timeout(&self) -> Duration {
        self.export_timeout
    }

    fn stop(&mut self, deadline: Instant) {
        self.export(deadline);
        std::mem::replace(
            &mut self.exporters,
            Exporters::new(Vec::new(), &STATS, "metric points"),
        )
        .shutdown();
    }
}

/// The running metrics pipeline.
#[derive(Debug)]
pub(crate) struct MetricsPipeline {
    worker: Worker,
}

impl MetricsPipeline {
    /// Starts the pipeline and turns metering on; `None` when no exporter
    /// could start (each failure is said on stderr).
    pub(crate) fn start(
        settings: MetricsSettings,
        resource: &Resource,
        scope: &InstrumentationScope,
    ) -> Option<Self> {
        let exporters = start_exporters(settings.exporters, "metrics", |spec| match spec {
            ExporterSpec::Console => Ok(Box::new(ConsoleMetrics) as Box<dyn Exporter<Collection>>),
            ExporterSpec::Otlp(otlp) => start_otlp(*otlp, resource, scope),
        });
        if exporters.is_empty() {
            return None;
        }
        histogram::set_exemplar_filter(settings.exemplars);
        histogram::update_bounds(&Converter::now());
        let now = SystemTime::now();
        let mut collector = Collector {
            temporality: settings.temporality,
            started: now,
            last: now,
            totals: HashMap::new(),
        };
        // What earlier installations recorded and did not export is not
        // this one's: start from nothing.
        let _ = collector.collect(&ALL);
        collector.totals.clear();
        let job = MetricJob {
            collector,
            exporters: Exporters::new(exporters, &STATS, "metric points"),
            interval: settings.interval,
            export_timeout: settings.export_timeout,
            next: Instant::now() + settings.interval,
        };
        match Worker::start("xray-metrics", job) {
            Ok(worker) => {
                switch::on();
                Some(Self { worker })
            }
            Err(why) => {
                eprintln!("xray: {why}; metrics will not be exported");
                None
            }
        }
    }

    /// Asks for the metrics to be exported now, by `deadline`.
    pub(crate) fn begin_flush(&self, deadline: Instant) -> Pending {
        self.worker.begin_flush(deadline)
    }

    /// Asks for the last export by `deadline` (metering stops, when
    /// `last` says this is the current installation).
    pub(crate) fn begin_stop(&self, deadline: Instant, last: bool) -> Pending {
        if last {
            switch::off();
        }
        self.worker.begin_stop(deadline)
    }
}

/// Metering stops (an installation without metrics).
pub(crate) fn stop_metering() {
    switch::off();
}

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
fn start_otlp(
    settings: crate::export::otlp::OtlpSettings,
    resource: &Resource,
    scope: &InstrumentationScope,
) -> Result<Box<dyn Exporter<Collection>>, String> {
    let encoder = super::otlp::Encoder::new(resource, scope);
    crate::signals::otlp::OtlpExporter::start(settings, encoder)
        .map(|exporter| Box::new(exporter) as Box<dyn Exporter<Collection>>)
}

#[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
fn start_otlp(
    _settings: crate::export::otlp::OtlpSettings,
    _resource: &Resource,
    _scope: &InstrumentationScope,
) -> Result<Box<dyn Exporter<Collection>>, String> {
    Err("OTLP metrics need the otlp-http or otlp-grpc feature of xray-runtime".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::KeyValue;

    #[test]
    fn cumulative_points_add_up_and_delta_points_restart() {
        static TEST: Instrument = Instrument::new("test.pipeline", "test");
        let series = TEST.series(vec![KeyValue::new("k", "v")]);
        let mut cumulative = Collector {
            temporality: Temporality::Cumulative,
            started: SystemTime::UNIX_EPOCH,
            last: SystemTime::UNIX_EPOCH,
            totals: HashMap::new(),
        };
        assert!(
            cumulative.collect(&[&TEST]).metrics.is_empty(),
            "nothing yet"
        );
        series.record(1, 1, None);
        series.record(1, 1, None);
        assert_eq!(
            cumulative.collect(&[&TEST]).metrics[0].points[0]
                .recorded
                .count(),
            2
        );
        series.record(1, 1, None);
        let third = cumulative.collect(&[&TEST]);
        assert_eq!(third.metrics[0].points[0].recorded.count(), 3);
        assert_eq!(third.metrics[0].points[0].start, SystemTime::UNIX_EPOCH);
        assert_eq!(third.points(), 1);

        let mut delta = Collector {
            temporality: Temporality::Delta,
            ..cumulative
        };
        series.record(1, 1, None);
        let first = delta.collect(&[&TEST]);
        assert_eq!(first.metrics[0].points[0].recorded.count(), 1);
        assert!(delta.collect(&[&TEST]).metrics.is_empty(), "nothing new");
    }
}
