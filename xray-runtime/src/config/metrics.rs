//! The metrics' settings: `OTEL_METRICS_EXPORTER`, the export interval and
//! timeout, the temporality, the exemplar filter, and where OTLP metrics
//! go (`OTEL_EXPORTER_OTLP_METRICS_*`).

use std::time::Duration;

use super::Config;
use super::env::{Env, choice, positive};
use super::otlp::{self, METRICS};
use super::signals::{SignalExporter, resolve_exporters};
use crate::metrics::histogram::ExemplarFilter;
use crate::metrics::pipeline::{MetricsSettings, Temporality};
use crate::signals::ExporterSpec;

pub(crate) const OTEL_METRICS_EXPORTER: &str = "OTEL_METRICS_EXPORTER";
pub(crate) const OTEL_METRIC_EXPORT_INTERVAL: &str = "OTEL_METRIC_EXPORT_INTERVAL";
pub(crate) const OTEL_METRIC_EXPORT_TIMEOUT: &str = "OTEL_METRIC_EXPORT_TIMEOUT";
pub(crate) const OTEL_METRICS_EXEMPLAR_FILTER: &str = "OTEL_METRICS_EXEMPLAR_FILTER";
pub(crate) const OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: &str =
    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE";

/// The specification's defaults.
const DEFAULT_INTERVAL_MS: u64 = 60_000;
const DEFAULT_TIMEOUT_MS: u64 = 30_000;

pub(crate) fn resolve(config: &Config, env: Env<'_>) -> MetricsSettings {
    let exporters = resolve_exporters(OTEL_METRICS_EXPORTER, config.metrics, &METRICS, env)
        .into_iter()
        .filter_map(|kind| match kind {
            SignalExporter::Otlp => Some(ExporterSpec::Otlp(Box::new(otlp::resolve_signal(
                config,
                env,
                &METRICS,
                &[],
            )))),
            SignalExporter::Console => Some(ExporterSpec::Console),
            SignalExporter::None => None,
        })
        .collect();
    MetricsSettings {
        exporters,
        interval: Duration::from_millis(positive(
            env,
            OTEL_METRIC_EXPORT_INTERVAL,
            DEFAULT_INTERVAL_MS,
        )),
        export_timeout: Duration::from_millis(positive(
            env,
            OTEL_METRIC_EXPORT_TIMEOUT,
            DEFAULT_TIMEOUT_MS,
        )),
        temporality: resolve_temporality(env),
        exemplars: resolve_exemplar_filter(env),
    }
}

fn resolve_temporality(env: Env<'_>) -> Temporality {
    choice(
        env,
        OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE,
        &[
            ("cumulative", Temporality::Cumulative),
            ("delta", Temporality::Delta),
            // Histograms are delta in low memory mode too.
            ("lowmemory", Temporality::Delta),
        ],
        ("cumulative", Temporality::Cumulative),
    )
}

fn resolve_exemplar_filter(env: Env<'_>) -> ExemplarFilter {
    choice(
        env,
        OTEL_METRICS_EXEMPLAR_FILTER,
        &[
            ("trace_based", ExemplarFilter::TraceBased),
            ("always_on", ExemplarFilter::AlwaysOn),
            ("always_off", ExemplarFilter::AlwaysOff),
        ],
        ("trace_based", ExemplarFilter::TraceBased),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::otlp::Signal;
    use std::collections::HashMap;

    fn resolve_with(config: Config, vars: &[(&str, &str)]) -> MetricsSettings {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        resolve(&config, &move |name| map.get(name).cloned())
    }

    #[test]
    fn defaults_and_variables() {
        let s = resolve_with(Config::new(), &[]);
        assert!(s.exporters.is_empty());
        assert_eq!(s.interval, Duration::from_secs(60));
        assert_eq!(s.export_timeout, Duration::from_secs(30));
        assert_eq!(s.temporality, Temporality::Cumulative);
        assert_eq!(s.exemplars, ExemplarFilter::TraceBased);
        let s = resolve_with(
            Config::new(),
            &[
                (otlp::OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:4317"),
                ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc"),
                (OTEL_METRIC_EXPORT_INTERVAL, "5000"),
                (
                    OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE,
                    "LowMemory",
                ),
                (OTEL_METRICS_EXEMPLAR_FILTER, "always_off"),
            ],
        );
        match s.exporters.as_slice() {
            [ExporterSpec::Otlp(o)] => {
                assert_eq!(o.endpoint, "http://collector:4317");
                assert_eq!(o.protocol, crate::export::Protocol::Grpc);
                assert_eq!(o.signal, Signal::Metrics);
            }
            other => panic!("one OTLP exporter, not {other:?}"),
        }
        assert_eq!(s.interval, Duration::from_secs(5));
        assert_eq!(s.temporality, Temporality::Delta);
        assert_eq!(s.exemplars, ExemplarFilter::AlwaysOff);
        let s = resolve_with(
            Config::new().metrics(SignalExporter::Console),
            &[(
                OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE,
                "sometimes",
            )],
        );
        assert!(matches!(s.exporters.as_slice(), [ExporterSpec::Console]));
        assert_eq!(s.temporality, Temporality::Cumulative);
    }
}
