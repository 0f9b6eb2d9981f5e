//! The logs' settings: `OTEL_LOGS_EXPORTER`, the batch processor's
//! `OTEL_BLRP_*` limits, and where OTLP records go
//! (`OTEL_EXPORTER_OTLP_LOGS_*`, or CloudWatch Logs' own endpoint).

use std::time::Duration;

use super::Config;
use super::env::{Env, positive, report_bad_var};
use super::otlp::{self, LOGS};
use super::signals::{SignalExporter, resolve_exporters};
use crate::export::otlp::{OtlpSettings, aws_host};
use crate::logs::pipeline::LogsSettings;
use crate::signals::ExporterSpec;

pub(crate) const OTEL_LOGS_EXPORTER: &str = "OTEL_LOGS_EXPORTER";
pub(crate) const OTEL_BLRP_SCHEDULE_DELAY: &str = "OTEL_BLRP_SCHEDULE_DELAY";
pub(crate) const OTEL_BLRP_EXPORT_TIMEOUT: &str = "OTEL_BLRP_EXPORT_TIMEOUT";
pub(crate) const OTEL_BLRP_MAX_QUEUE_SIZE: &str = "OTEL_BLRP_MAX_QUEUE_SIZE";
pub(crate) const OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: &str = "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE";

/// The specification's defaults.
const DEFAULT_SCHEDULE_DELAY_MS: u64 = 1000;
const DEFAULT_EXPORT_TIMEOUT_MS: u64 = 30_000;
const DEFAULT_MAX_QUEUE_SIZE: u64 = 2048;
const DEFAULT_MAX_EXPORT_BATCH_SIZE: u64 = 512;
/// The most records that may wait: about 100 MiB of small records.
const MAX_QUEUE_SIZE: u64 = 1 << 20;

/// The headers CloudWatch Logs' OTLP endpoint requires.
pub(crate) const LOG_GROUP_HEADER: &str = "x-aws-log-group";
pub(crate) const LOG_STREAM_HEADER: &str = "x-aws-log-stream";

pub(crate) fn resolve(config: &Config, env: Env<'_>) -> LogsSettings {
    let exporters = resolve_exporters(OTEL_LOGS_EXPORTER, config.logs, &LOGS, env)
        .into_iter()
        .filter_map(|kind| match kind {
            SignalExporter::Otlp => Some(ExporterSpec::Otlp(Box::new(resolve_otlp(config, env)))),
            SignalExporter::Console => Some(ExporterSpec::Console),
            SignalExporter::None => None,
        })
        .collect();
    let mut max_queue = positive(env, OTEL_BLRP_MAX_QUEUE_SIZE, DEFAULT_MAX_QUEUE_SIZE);
    if max_queue > MAX_QUEUE_SIZE {
        report_bad_var(
            OTEL_BLRP_MAX_QUEUE_SIZE,
            &max_queue.to_string(),
            "more than the largest queue",
            &MAX_QUEUE_SIZE.to_string(),
        );
        max_queue = MAX_QUEUE_SIZE;
    }
    let max_batch = positive(
        env,
        OTEL_BLRP_MAX_EXPORT_BATCH_SIZE,
        DEFAULT_MAX_EXPORT_BATCH_SIZE,
    )
    .min(max_queue);
    LogsSettings {
        exporters,
        max_queue: max_queue as usize,
        max_batch: max_batch as usize,
        schedule_delay: Duration::from_millis(positive(
            env,
            OTEL_BLRP_SCHEDULE_DELAY,
            DEFAULT_SCHEDULE_DELAY_MS,
        )),
        export_timeout: Duration::from_millis(positive(
            env,
            OTEL_BLRP_EXPORT_TIMEOUT,
            DEFAULT_EXPORT_TIMEOUT_MS,
        )),
    }
}

/// Where OTLP records go: CloudWatch Logs' endpoint in the region when the
/// code asked for CloudWatch Logs and `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`
/// names no other, else the OTLP endpoint of the variables or the code.
fn resolve_otlp(config: &Config, env: Env<'_>) -> OtlpSettings {
    let headers: Vec<(String, String)> = config
        .cloudwatch_logs
        .iter()
        .flat_map(|(group, stream)| {
            [
                (LOG_GROUP_HEADER.to_string(), group.clone()),
                (LOG_STREAM_HEADER.to_string(), stream.clone()),
            ]
        })
        .collect();
    let to_cloudwatch = config.cloudwatch_logs.is_some() && env(LOGS.endpoint).is_none();
    let settings = if to_cloudwatch {
        otlp::resolve_aws(config, env, &LOGS, &headers)
    } else {
        otlp::resolve_signal(config, env, &LOGS, &headers)
    };
    let cloudwatch = to_cloudwatch
        || aws_host::host_of(&settings.endpoint)
            .and_then(aws_host::service_and_region)
            .is_some_and(|(service, _)| service == "logs");
    let has = |name: &str| {
        settings
            .headers
            .iter()
            .any(|(key, _)| key.eq_ignore_ascii_case(name))
    };
    if cloudwatch && !(has(LOG_GROUP_HEADER) && has(LOG_STREAM_HEADER)) {
        eprintln!(
            "xray: CloudWatch Logs takes OTLP records into a log group and stream that exist: set \
             OTEL_EXPORTER_OTLP_LOGS_HEADERS={LOG_GROUP_HEADER}=<group>,{LOG_STREAM_HEADER}=<stream> \
             (or call Config::cloudwatch_logs); without them every record is refused"
        );
    }
    settings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::Protocol;
    use crate::export::otlp::{Signal, Signing};
    use std::collections::HashMap;

    fn resolve_with(config: Config, vars: &[(&str, &str)]) -> LogsSettings {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        resolve(&config, &move |name| map.get(name).cloned())
    }

    fn otlp(settings: &LogsSettings) -> &OtlpSettings {
        match settings.exporters.as_slice() {
            [ExporterSpec::Otlp(otlp)] => otlp,
            other => panic!("one OTLP exporter, not {other:?}"),
        }
    }

    #[test]
    fn off_by_default_and_otlp_when_an_endpoint_is_set() {
        let s = resolve_with(Config::new(), &[]);
        assert!(s.exporters.is_empty());
        assert_eq!((s.max_queue, s.max_batch), (2048, 512));
        assert_eq!(s.schedule_delay, Duration::from_secs(1));
        assert_eq!(s.export_timeout, Duration::from_secs(30));
        let s = resolve_with(
            Config::new(),
            &[
                (otlp::OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:4318"),
                ("OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", "gzip"),
                (OTEL_BLRP_MAX_QUEUE_SIZE, "100"),
                (OTEL_BLRP_MAX_EXPORT_BATCH_SIZE, "500"),
            ],
        );
        let o = otlp(&s);
        assert_eq!(o.endpoint, "http://collector:4318/v1/logs");
        assert_eq!(o.signal, Signal::Logs);
        assert_eq!(o.compression, crate::export::otlp::Compression::Gzip);
        assert_eq!((s.max_queue, s.max_batch), (100, 100));
    }

    #[test]
    fn cloudwatch_logs_from_the_code_or_the_variables() {
        let code = || Config::new().cloudwatch_logs("/shop/app", "web-1");
        let s = resolve_with(code(), &[(otlp::AWS_REGION, "eu-west-1")]);
        let o = otlp(&s);
        assert_eq!(o.endpoint, "https://logs.eu-west-1.amazonaws.com/v1/logs");
        assert_eq!(o.protocol, Protocol::HttpProtobuf);
        assert_eq!(
            o.signing,
            Some(Signing {
                service: "logs".into(),
                region: Some("eu-west-1".into())
            })
        );
        assert_eq!(
            o.headers,
            vec![
                (LOG_GROUP_HEADER.to_string(), "/shop/app".to_string()),
                (LOG_STREAM_HEADER.to_string(), "web-1".to_string())
            ]
        );
        // The variables' headers win; their endpoint redirects.
        let s = resolve_with(
            code(),
            &[
                ("OTEL_EXPORTER_OTLP_LOGS_HEADERS", "x-aws-log-stream=web-2"),
                (
                    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                    "https://proxy.internal/v1/logs",
                ),
                (otlp::XRAY_OTLP_SIGV4, "true"),
                (otlp::AWS_REGION, "eu-west-1"),
            ],
        );
        let o = otlp(&s);
        assert_eq!(o.endpoint, "https://proxy.internal/v1/logs");
        assert_eq!(o.signing.as_ref().map(|s| s.service.as_str()), Some("logs"));
        assert_eq!(
            o.headers,
            vec![
                (LOG_GROUP_HEADER.to_string(), "/shop/app".to_string()),
                (LOG_STREAM_HEADER.to_string(), "web-2".to_string())
            ]
        );
        // CloudWatch Logs named by the endpoint alone.
        let s = resolve_with(
            Config::new(),
            &[
                (
                    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                    "https://logs.us-east-1.amazonaws.com/v1/logs",
                ),
                (
                    "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
                    "x-aws-log-group=g,x-aws-log-stream=s",
                ),
            ],
        );
        assert_eq!(
            otlp(&s).signing,
            Some(Signing {
                service: "logs".into(),
                region: Some("us-east-1".into())
            })
        );
    }
}
