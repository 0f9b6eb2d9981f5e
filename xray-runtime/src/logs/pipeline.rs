//! The logs' export pipeline of one installation: the queue records wait
//! in, and the thread that hands them to the exporters in batches, on a
//! schedule, when a batch is waiting, at a flush and at shutdown.

use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::Resource;

use super::STATS;
use super::console::ConsoleLogs;
use super::queue::{self, Queue};
use super::record::LogRecord;
use crate::signals::ExporterSpec;
use crate::signals::deliver::{Exporter, Exporters, start_exporters};
use crate::signals::worker::{Job, Pending, Worker};

/// The logs' settings, as the configuration resolved them
/// (`OTEL_LOGS_EXPORTER`, `OTEL_BLRP_*`, `OTEL_EXPORTER_OTLP_LOGS_*`).
#[derive(Clone, Debug)]
pub(crate) struct LogsSettings {
    pub exporters: Vec<ExporterSpec>,
    /// Records that may wait for export.
    pub max_queue: usize,
    /// The most records in one export.
    pub max_batch: usize,
    /// How long records may wait before export.
    pub schedule_delay: Duration,
    /// How long one export may take.
    pub export_timeout: Duration,
}

/// The running logs pipeline.
pub(crate) struct LogsPipeline {
    queue: Arc<Queue>,
    worker: Worker,
}

impl std::fmt::Debug for LogsPipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogsPipeline")
            .field("waiting", &self.queue.len())
            .finish()
    }
}

struct LogJob {
    queue: Arc<Queue>,
    exporters: Exporters<[LogRecord]>,
    max_batch: usize,
    schedule_delay: Duration,
    export_timeout: Duration,
    next: Instant,
}

impl LogJob {
    /// Exports every record waiting, batch by batch; those still waiting at
    /// `deadline` are counted lost.
    fn export_waiting(&mut self, deadline: Instant) {
        loop {
            let batch = self.queue.take(self.max_batch);
            if batch.is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                self.exporters.timed_out(batch.len() as u64);
                continue;
            }
            self.exporters.deliver(&batch, batch.len() as u64, deadline);
        }
        self.next = Instant::now() + self.schedule_delay;
    }
}

impl Job for LogJob {
    fn run(&mut self, _all: bool, deadline: Instant) {
        self.export_waiting(deadline);
    }

    fn next_run(&self) -> Instant {
        self.next
    }

    fn export_timeout(&self) -> Duration {
        self.export_timeout
    }

    fn stop(&mut self, deadline: Instant) {
        self.export_waiting(deadline);
        std::mem::replace(
            &mut self.exporters,
            Exporters::new(Vec::new(), &STATS, "log records"),
        )
        .shutdown();
    }
}

impl LogsPipeline {
    /// Starts the pipeline and makes it the one records go to; `None` when
    /// no exporter could start (each failure is said on stderr).
    pub(crate) fn start(
        settings: LogsSettings,
        resource: &Resource,
        scope: &InstrumentationScope,
    ) -> Option<Self> {
        let exporters = start_exporters(settings.exporters, "log records", |spec| match spec {
            ExporterSpec::Console => Ok(Box::new(ConsoleLogs) as Box<dyn Exporter<[LogRecord]>>),
            ExporterSpec::Otlp(otlp) => start_otlp(*otlp, resource, scope),
        });
        if exporters.is_empty() {
            return None;
        }
        let queue = Arc::new(Queue::new(settings.max_queue, settings.max_batch));
        let job = LogJob {
            queue: queue.clone(),
            exporters: Exporters::new(exporters, &STATS, "log records"),
            max_batch: settings.max_batch.max(1),
            schedule_delay: settings.schedule_delay,
            export_timeout: settings.export_timeout,
            next: Instant::now() + settings.schedule_delay,
        };
        let worker = match Worker::start("xray-logs", job) {
            Ok(worker) => worker,
            Err(why) => {
                eprintln!("xray: {why}; log records will not be exported");
                return None;
            }
        };
        queue.set_wake(worker.waker());
        queue::install(queue.clone());
        Some(Self { queue, worker })
    }

    /// Asks for every record written so far to be exported by `deadline`.
    pub(crate) fn begin_flush(&self, deadline: Instant) -> Pending {
        self.worker.begin_flush(deadline)
    }

    /// Stops taking records, and asks for the last export by `deadline`.
    pub(crate) fn begin_stop(&self, deadline: Instant) -> Pending {
        if queue::is_installed(&self.queue) {
            queue::uninstall();
        }
        self.worker.begin_stop(deadline)
    }
}

/// Records are not exported any more (an installation without logs).
pub(crate) fn stop_taking() {
    queue::uninstall();
}

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
fn start_otlp(
    settings: crate::export::otlp::OtlpSettings,
    resource: &Resource,
    scope: &InstrumentationScope,
) -> Result<Box<dyn Exporter<[LogRecord]>>, String> {
    let encoder = super::otlp::Encoder::new(resource, scope);
    crate::signals::otlp::OtlpExporter::start(settings, encoder)
        .map(|exporter| Box::new(exporter) as Box<dyn Exporter<[LogRecord]>>)
}

#[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
fn start_otlp(
    _settings: crate::export::otlp::OtlpSettings,
    _resource: &Resource,
    _scope: &InstrumentationScope,
) -> Result<Box<dyn Exporter<[LogRecord]>>, String> {
    Err("OTLP logs need the otlp-http or otlp-grpc feature of xray-runtime".into())
}
