//! The log and metric pipelines of one installation, next to its spans'
//! export thread: started with it, flushed with it (`flush`, an AWS Lambda
//! invocation's end) and stopped with it, all three at once within one
//! deadline.

use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::Resource;

use crate::collector::Collector;
use crate::flush_error::FlushError;
use crate::logs::pipeline::{self as logs, LogsPipeline, LogsSettings};
use crate::metrics::pipeline::{self as metrics, MetricsPipeline, MetricsSettings};
use crate::signals::SignalStats;
use crate::signals::worker::Pending;
use crate::state::Pipeline;

/// The logs and metrics pipelines of one installation (each absent when
/// its signal is not exported).
#[derive(Debug, Default)]
pub(crate) struct SignalPipelines {
    logs: Option<LogsPipeline>,
    metrics: Option<MetricsPipeline>,
}

impl SignalPipelines {
    /// Starts what the settings ask for; the newest installation decides
    /// whether records are taken and calls metered.
    pub(crate) fn start(
        logs: LogsSettings,
        metrics: MetricsSettings,
        resource: &Resource,
        scope: &InstrumentationScope,
    ) -> Self {
        let logs = LogsPipeline::start(logs, resource, scope);
        if logs.is_none() {
            logs::stop_taking();
        }
        let metrics = MetricsPipeline::start(metrics, resource, scope);
        if metrics.is_none() {
            metrics::stop_metering();
        }
        Self { logs, metrics }
    }

    /// Asks both for a flush by `deadline`.
    fn begin_flush(&self, deadline: Instant) -> Vec<Pending> {
        let logs = self.logs.as_ref().map(|l| l.begin_flush(deadline));
        let metrics = self.metrics.as_ref().map(|m| m.begin_flush(deadline));
        logs.into_iter().chain(metrics).collect()
    }

    /// Asks both for their last export by `deadline`; `current`: this is
    /// the newest installation, whose switches go off.
    pub(crate) fn begin_stop(&self, deadline: Instant, current: bool) -> Vec<Pending> {
        if current {
            logs::stop_taking();
        }
        let logs = self.logs.as_ref().map(|l| l.begin_stop(deadline));
        let metrics = self
            .metrics
            .as_ref()
            .map(|m| m.begin_stop(deadline, current));
        logs.into_iter().chain(metrics).collect()
    }

    /// Whether any runs.
    pub(crate) fn is_empty(&self) -> bool {
        self.logs.is_none() && self.metrics.is_none()
    }
}

/// No record is taken and no call metered (tracing is disabled).
pub(crate) fn stop_all() {
    logs::stop_taking();
    metrics::stop_metering();
}

/// Waits for every flush or stop in `pending`; false when one did not end
/// by its deadline.
pub(crate) fn wait_all(pending: Vec<Pending>) -> bool {
    // Every one is waited for, whatever the others did.
    let mut all = true;
    for pending in pending {
        all &= pending.wait();
    }
    all
}

/// The spans' export thread together with the logs and metrics pipelines:
/// what `flush` (and the end of a Lambda invocation) reaches.
pub(crate) struct AllSignals {
    pub collector: Arc<Collector>,
    pub signals: Arc<SignalPipelines>,
}

impl AllSignals {
    /// Flushes all three at once, waiting at most `wait`; the result is the
    /// spans' (log and metric losses are counted in their stats).
    pub(crate) fn flush_all(&self, wait: Duration) -> Result<(), FlushError> {
        let pending = self.signals.begin_flush(Instant::now() + wait);
        let spans = self.collector.flush(wait);
        wait_all(pending);
        spans
    }
}

impl Pipeline for AllSignals {
    fn nudge(&self) {
        self.collector.nudge();
    }

    fn flush(&self, wait: Duration) -> Result<(), FlushError> {
        self.flush_all(wait)
    }

    fn retire(&self) {
        self.collector.retire();
    }
}

/// Says on stderr what the log and metric pipelines lost since the
/// installation started.
pub(crate) fn report_losses(logs_at_install: &SignalStats, metrics_at_install: &SignalStats) {
    let logs = crate::logs::stats().since(logs_at_install);
    if logs.lost() > 0 {
        eprintln!("xray: at shutdown: log records {logs}");
    }
    let metrics = crate::metrics::stats().since(metrics_at_install);
    if metrics.lost() > 0 {
        eprintln!("xray: at shutdown: metric points {metrics}");
    }
}
