//! Configuration: what the code asks for, and what the environment overrides.
//!
//! Every setting is resolved by one function below, in one order: a standard
//! `OTEL_*` environment variable when it is set and valid, else the value given
//! in code (`#[xray_main(...)]` options or the [`Config`] builder), else the
//! default. An operator can therefore redirect a binary without rebuilding it.
//! A bad value in a variable is reported once on stderr, naming the variable
//! and the fallback, and the application keeps running.

mod detection;
mod env;
mod logs;
mod metrics;
mod otlp;
mod pipeline;
mod sampling;
mod signals;

use std::fmt;
use std::time::Duration;

use opentelemetry_sdk::trace::SpanExporter;

use crate::clock::ClockChoice;
use crate::collector::Limits;
use crate::export::otlp::{Compression, OtlpSettings};
use crate::export::{BoxedExporter, Protocol};
use crate::logs::pipeline::LogsSettings;
use crate::metrics::pipeline::MetricsSettings;
use crate::resource;
use crate::sampler::SamplerKind;

#[cfg(test)]
pub(crate) use env::fixed as fixed_env;
use env::report_bad_var;
pub(crate) use env::{Env, process_env};
#[cfg(feature = "xray-sampler")]
pub(crate) use sampling::SamplingEndpoint;
pub(crate) use sampling::SamplingSettings;
pub use sampling::{DEFAULT_POLLING_INTERVAL, DEFAULT_SAMPLING_ENDPOINT, XraySampling};
pub use signals::SignalExporter;

pub(crate) const OTEL_SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
pub(crate) const OTEL_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
pub(crate) const OTEL_RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";
pub(crate) const OTEL_TRACES_EXPORTER: &str = "OTEL_TRACES_EXPORTER";
pub(crate) const OTEL_PROPAGATORS: &str = "OTEL_PROPAGATORS";
pub(crate) const OTEL_TRACES_SAMPLER: &str = "OTEL_TRACES_SAMPLER";
pub(crate) const OTEL_TRACES_SAMPLER_ARG: &str = "OTEL_TRACES_SAMPLER_ARG";
pub(crate) const OTEL_BSP_EXPORT_TIMEOUT: &str = "OTEL_BSP_EXPORT_TIMEOUT";

/// Propagators used when neither `OTEL_PROPAGATORS` nor the code names any.
pub const DEFAULT_PROPAGATORS: &str = "xray,tracecontext";
/// How long shutdown may take to flush, unless configured otherwise.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_millis(5000);
/// Where finished spans go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExporterKind {
    /// OTLP to a collector (gRPC or HTTP/protobuf, see [`Protocol`]).
    Otlp,
    /// OTLP straight to AWS X-Ray's endpoint
    /// (`https://xray.<region>.amazonaws.com/v1/traces`), signed with SigV4;
    /// the region comes from `AWS_REGION`, `AWS_DEFAULT_REGION` or the profile.
    Xray,
    /// A tree per trace on stdout.
    Console,
    /// One JSON object per span per line on stdout.
    Json,
    /// Spans are recorded (for propagation and sampling) but not exported.
    None,
}

impl ExporterKind {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "otlp" => Some(Self::Otlp),
            "xray" => Some(Self::Xray),
            "console" | "logging" => Some(Self::Console),
            "json" => Some(Self::Json),
            "none" => Some(Self::None),
            _ => None,
        }
    }
}

/// How the toolkit is set up: the argument of [`init`](crate::init).
///
/// Every setting is optional; environment variables override what is set here
/// (see the crate documentation for the table).
///
/// ```no_run
/// use xray_runtime::{Config, ExporterKind};
///
/// let _guard = xray_runtime::init(
///     Config::new()
///         .service_name("checkout")
///         .exporter(ExporterKind::Otlp)
///         .endpoint("http://127.0.0.1:4318"),
/// );
/// ```
#[must_use]
#[derive(Default)]
pub struct Config {
    pub(crate) service_name: Option<String>,
    pub(crate) default_service_name: Option<String>,
    pub(crate) service_version: Option<String>,
    pub(crate) exporter: Option<ExporterKind>,
    pub(crate) custom_exporter: Option<BoxedExporter>,
    pub(crate) endpoint: Option<String>,
    pub(crate) protocol: Option<Protocol>,
    pub(crate) compression: Option<Compression>,
    pub(crate) propagators: Option<String>,
    pub(crate) sampler: Option<SamplerKind>,
    pub(crate) xray_sampling: Option<XraySampling>,
    pub(crate) shutdown_timeout: Option<Duration>,
    pub(crate) resource_detectors: Option<String>,
    pub(crate) logs: Option<SignalExporter>,
    pub(crate) metrics: Option<SignalExporter>,
    /// CloudWatch Logs' log group and stream.
    pub(crate) cloudwatch_logs: Option<(String, String)>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("service_name", &self.service_name)
            .field("default_service_name", &self.default_service_name)
            .field("service_version", &self.service_version)
            .field("exporter", &self.exporter)
            .field("custom_exporter", &self.custom_exporter.is_some())
            .field("endpoint", &self.endpoint)
            .field("protocol", &self.protocol)
            .field("compression", &self.compression)
            .field("propagators", &self.propagators)
            .field("sampler", &self.sampler)
            .field("xray_sampling", &self.xray_sampling)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("resource_detectors", &self.resource_detectors)
            .field("logs", &self.logs)
            .field("metrics", &self.metrics)
            .field("cloudwatch_logs", &self.cloudwatch_logs)
            .finish()
    }
}

impl Config {
    /// A configuration with nothing set: environment variables and defaults decide.
    pub fn new() -> Self {
        Self::default()
    }

    /// `service.name` of every span. `OTEL_SERVICE_NAME`, or `service.name` in
    /// `OTEL_RESOURCE_ATTRIBUTES`, wins when set.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// The service name used when nothing else names one (`#[xray_main]`
    /// passes the crate's package name here).
    pub fn default_service_name(mut self, name: impl Into<String>) -> Self {
        self.default_service_name = Some(name.into());
        self
    }

    /// `service.version` of every span, unless `OTEL_RESOURCE_ATTRIBUTES` sets one.
    pub fn service_version(mut self, version: impl Into<String>) -> Self {
        self.service_version = Some(version.into());
        self
    }

    /// Where spans go. `OTEL_TRACES_EXPORTER` wins when set. Default: `otlp`
    /// when an `OTEL_EXPORTER_OTLP_*ENDPOINT` variable is set, else `console`.
    pub fn exporter(mut self, kind: ExporterKind) -> Self {
        self.exporter = Some(kind);
        self
    }

    /// Sends spans to this exporter instead of a built-in one (batched off
    /// the application's threads). `OTEL_TRACES_EXPORTER` does not apply.
    pub fn with_exporter(mut self, exporter: impl SpanExporter + 'static) -> Self {
        self.custom_exporter = Some(BoxedExporter::new(exporter));
        self
    }

    /// Base URL of the OTLP collector, as in `OTEL_EXPORTER_OTLP_ENDPOINT`
    /// (for HTTP, `/v1/traces` is appended). The variables win when set.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// OTLP transport. `OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL` wins when set.
    /// Default: HTTP/protobuf, as the OTLP specification says.
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = Some(protocol);
        self
    }

    /// Compresses OTLP request bodies with gzip.
    /// `OTEL_EXPORTER_OTLP_(TRACES_)COMPRESSION` wins when set. Default: none.
    pub fn gzip(mut self, on: bool) -> Self {
        self.compression = Some(if on {
            Compression::Gzip
        } else {
            Compression::None
        });
        self
    }

    /// Comma-separated propagator names: `xray`, `xray-lambda`, `tracecontext`,
    /// `baggage`, `none`. `OTEL_PROPAGATORS` wins when set. Default `xray,tracecontext`.
    pub fn propagators(mut self, names: impl Into<String>) -> Self {
        self.propagators = Some(names.into());
        self
    }

    /// Sampling. `OTEL_TRACES_SAMPLER` (with `OTEL_TRACES_SAMPLER_ARG`) wins
    /// when set. Default: parent-based, always on.
    pub fn sampler(mut self, sampler: SamplerKind) -> Self {
        self.sampler = Some(sampler);
        self
    }

    /// Settings of X-Ray sampling, used when the sampler is
    /// [`SamplerKind::Xray`] (from [`Config::sampler`] or
    /// `OTEL_TRACES_SAMPLER=xray`). The environment wins setting by setting
    /// (see [`XraySampling`]).
    pub fn xray_sampling(mut self, settings: XraySampling) -> Self {
        self.xray_sampling = Some(settings);
        self
    }

    /// Upper bound on the time shutdown spends flushing. `OTEL_BSP_EXPORT_TIMEOUT`
    /// (milliseconds) wins when set. Default 5 s.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = Some(timeout);
        self
    }

    /// Which resource detectors run at start (comma-separated): `lambda`,
    /// `elastic_beanstalk`, `eks`, `ecs`, `ec2` (also spelled `aws_ec2`,
    /// ...), `aws` or `all` for every one, `none` for none.
    /// `OTEL_RESOURCE_DETECTORS` wins when set. Default: every one; each
    /// asks its endpoint only on its own platform, off the application's
    /// threads and within one second.
    ///
    /// ```
    /// use xray_runtime::{Config, ExporterKind};
    ///
    /// // Running on ECS: the task metadata is all there is to read.
    /// let _guard = xray_runtime::init(
    ///     Config::new().exporter(ExporterKind::None).resource_detectors("ecs"),
    /// );
    /// ```
    pub fn resource_detectors(mut self, names: impl Into<String>) -> Self {
        self.resource_detectors = Some(names.into());
        self
    }

    /// Where log records go (from the `tracing` layer and the `log`
    /// bridge, see [`logs`](crate::logs)). `OTEL_LOGS_EXPORTER` wins when
    /// set. Default: `otlp` when `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` is set,
    /// or `OTEL_EXPORTER_OTLP_ENDPOINT` names a collector (not an AWS host,
    /// and without `XRAY_OTLP_SIGV4=true`), else none.
    ///
    /// ```
    /// use xray_runtime::{Config, SignalExporter};
    ///
    /// let config = Config::new().logs(SignalExporter::Console);
    /// # let _ = config;
    /// ```
    pub fn logs(mut self, exporter: SignalExporter) -> Self {
        self.logs = Some(exporter);
        self
    }

    /// Where metrics go (see [`metrics`](crate::metrics)).
    /// `OTEL_METRICS_EXPORTER` wins when set. Default: `otlp` when
    /// `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` is set, or
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` names a collector (not an AWS host, and
    /// without `XRAY_OTLP_SIGV4=true`), else none.
    ///
    /// ```
    /// use xray_runtime::{Config, SignalExporter};
    ///
    /// let config = Config::new().metrics(SignalExporter::Otlp);
    /// # let _ = config;
    /// ```
    pub fn metrics(mut self, exporter: SignalExporter) -> Self {
        self.metrics = Some(exporter);
        self
    }

    /// Sends log records straight to CloudWatch Logs, into `log_group` and
    /// `log_stream` (both must exist): OTLP/HTTP to
    /// `https://logs.<region>.amazonaws.com/v1/logs`, signed with SigV4 for
    /// the service `logs` in the region of `AWS_REGION` (or the AWS
    /// profile), with the `x-aws-log-group` and `x-aws-log-stream` headers.
    /// Logs are exported over OTLP unless `OTEL_LOGS_EXPORTER` says
    /// otherwise; `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` redirects them (a VPC
    /// endpoint, a proxy), and `OTEL_EXPORTER_OTLP_LOGS_HEADERS` overrides
    /// the group and stream.
    ///
    /// ```no_run
    /// use xray_runtime::Config;
    ///
    /// let _guard = xray_runtime::init(Config::new().cloudwatch_logs("/shop/checkout", "web-1"));
    /// ```
    pub fn cloudwatch_logs(
        mut self,
        log_group: impl Into<String>,
        log_stream: impl Into<String>,
    ) -> Self {
        self.cloudwatch_logs = Some((log_group.into(), log_stream.into()));
        if self.logs.is_none() {
            self.logs = Some(SignalExporter::Otlp);
        }
        self
    }
}

/// A propagator named in a configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PropagatorKind {
    Xray,
    XrayLambda,
    TraceContext,
    Baggage,
}

/// The outcome of resolving a [`Config`] against the environment.
#[derive(Debug)]
pub(crate) struct Resolved {
    pub disabled: bool,
    pub service_name: String,
    /// `None` when `OTEL_RESOURCE_ATTRIBUTES` already sets `service.version`.
    pub service_version: Option<String>,
    pub exporters: Vec<ExporterKind>,
    /// True when the console exporter was chosen only because nothing chose one.
    pub exporter_fell_back: bool,
    /// Where and how OTLP goes, if it is among the exporters.
    pub otlp: OtlpSettings,
    /// The same for AWS X-Ray's OTLP endpoint (exporter `xray`).
    pub xray: OtlpSettings,
    pub propagators: Vec<PropagatorKind>,
    pub sampler: SamplerKind,
    /// X-Ray sampling's settings, when the sampler is `xray`.
    #[cfg_attr(not(feature = "xray-sampler"), allow(dead_code))]
    pub sampling: Option<SamplingSettings>,
    pub shutdown_timeout: Duration,
    pub limits: Limits,
    pub clock: ClockChoice,
    /// Resource detection: which detectors, and where they look.
    pub detection: resource::Settings,
    pub logs: LogsSettings,
    pub metrics: MetricsSettings,
}

impl Resolved {
    pub(crate) fn new(config: &Config, env: Env<'_>) -> Self {
        let (exporters, exporter_fell_back) = resolve_exporters(config, env);
        let shutdown_timeout = resolve_shutdown_timeout(config, env);
        let sampler = resolve_sampler(config, env);
        Self {
            disabled: resolve_disabled(env),
            service_name: resolve_service_name(config, env),
            service_version: resolve_service_version(config, env),
            exporters,
            exporter_fell_back,
            otlp: otlp::resolve(config, env),
            xray: otlp::resolve_xray(config, env),
            propagators: resolve_propagators(config, env),
            sampler,
            sampling: (sampler == SamplerKind::Xray).then(|| sampling::resolve(config, env)),
            shutdown_timeout,
            limits: pipeline::resolve_limits(env, shutdown_timeout),
            clock: pipeline::resolve_clock(env),
            detection: detection::resolve(config, env),
            logs: logs::resolve(config, env),
            metrics: metrics::resolve(config, env),
        }
    }
}

fn resolve_disabled(env: Env<'_>) -> bool {
    match env(OTEL_SDK_DISABLED) {
        None => false,
        Some(v) => match v.trim().to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            _ => {
                report_bad_var(OTEL_SDK_DISABLED, &v, "expected true or false", "false");
                false
            }
        },
    }
}

/// `service.name` in `OTEL_RESOURCE_ATTRIBUTES` (`k=v,k2=v2`, values percent-encoded).
fn resource_attribute(env: Env<'_>, key: &str) -> Option<String> {
    let attrs = env(OTEL_RESOURCE_ATTRIBUTES)?;
    attrs.split(',').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k.trim() == key && !v.trim().is_empty()).then(|| v.trim().to_string())
    })
}

fn resolve_service_name(config: &Config, env: Env<'_>) -> String {
    env(OTEL_SERVICE_NAME)
        .map(|v| v.trim().to_string())
        .or_else(|| resource_attribute(env, "service.name"))
        .or_else(|| config.service_name.clone())
        .or_else(|| config.default_service_name.clone())
        .unwrap_or_else(|| "unknown_service".to_string())
}

fn resolve_service_version(config: &Config, env: Env<'_>) -> Option<String> {
    if resource_attribute(env, "service.version").is_some() {
        return None;
    }
    config.service_version.clone()
}

/// Returns the exporters and whether console was chosen only as the fallback.
fn resolve_exporters(config: &Config, env: Env<'_>) -> (Vec<ExporterKind>, bool) {
    if let Some(value) = env(OTEL_TRACES_EXPORTER) {
        let mut kinds = Vec::new();
        let mut bad = Vec::new();
        for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match ExporterKind::parse(&name.to_ascii_lowercase()) {
                Some(kind) if !kinds.contains(&kind) => kinds.push(kind),
                Some(_) => {}
                None => bad.push(name.to_string()),
            }
        }
        if kinds.contains(&ExporterKind::None) {
            kinds = vec![ExporterKind::None];
        }
        if bad.is_empty() && !kinds.is_empty() {
            return (kinds, false);
        }
        let (fallback, fell_back) = if kinds.is_empty() {
            code_or_default_exporter(config, env)
        } else {
            (kinds, false)
        };
        let names: Vec<_> = fallback
            .iter()
            .map(|k| format!("{k:?}").to_lowercase())
            .collect();
        report_bad_var(
            OTEL_TRACES_EXPORTER,
            &value,
            "expected otlp, xray, console, json or none",
            &names.join(","),
        );
        return (fallback, fell_back);
    }
    code_or_default_exporter(config, env)
}

fn code_or_default_exporter(config: &Config, env: Env<'_>) -> (Vec<ExporterKind>, bool) {
    match config.exporter {
        Some(kind) => (vec![kind], false),
        None if otlp::endpoint_variable_set(env) => (vec![ExporterKind::Otlp], false),
        None => (vec![ExporterKind::Console], true),
    }
}

fn parse_propagators(value: &str) -> Result<Vec<PropagatorKind>, String> {
    let mut kinds = Vec::new();
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let kind = match name.to_ascii_lowercase().as_str() {
            "xray" => PropagatorKind::Xray,
            "xray-lambda" => PropagatorKind::XrayLambda,
            "tracecontext" => PropagatorKind::TraceContext,
            "baggage" => PropagatorKind::Baggage,
            "none" => return Ok(Vec::new()),
            _ => return Err(name.to_string()),
        };
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    Ok(kinds)
}

fn resolve_propagators(config: &Config, env: Env<'_>) -> Vec<PropagatorKind> {
    let from_code = || {
        let names = config.propagators.as_deref().unwrap_or(DEFAULT_PROPAGATORS);
        parse_propagators(names).unwrap_or_else(|bad| {
            eprintln!(
                "xray: propagator {bad:?} is not one of xray, xray-lambda, tracecontext, baggage, none; using {DEFAULT_PROPAGATORS}"
            );
            parse_propagators(DEFAULT_PROPAGATORS).unwrap_or_default()
        })
    };
    match env(OTEL_PROPAGATORS) {
        Some(value) => parse_propagators(&value).unwrap_or_else(|bad| {
            let fallback = config.propagators.as_deref().unwrap_or(DEFAULT_PROPAGATORS);
            report_bad_var(
                OTEL_PROPAGATORS,
                &value,
                &format!("{bad:?} is not one of xray, xray-lambda, tracecontext, baggage, none"),
                fallback,
            );
            from_code()
        }),
        None => from_code(),
    }
}

fn resolve_sampler(config: &Config, env: Env<'_>) -> SamplerKind {
    let from_code =
        without_xray_sampler(config.sampler.unwrap_or(SamplerKind::ParentBasedAlwaysOn));
    let Some(name) = env(OTEL_TRACES_SAMPLER) else {
        return from_code;
    };
    let ratio = || -> f64 {
        match env(OTEL_TRACES_SAMPLER_ARG) {
            None => 1.0,
            Some(arg) => match arg.trim().parse::<f64>() {
                Ok(r) if (0.0..=1.0).contains(&r) => r,
                _ => {
                    report_bad_var(
                        OTEL_TRACES_SAMPLER_ARG,
                        &arg,
                        "expected a ratio from 0 to 1",
                        "1.0",
                    );
                    1.0
                }
            },
        }
    };
    match name.trim().to_ascii_lowercase().as_str() {
        "always_on" => SamplerKind::AlwaysOn,
        "always_off" => SamplerKind::AlwaysOff,
        "traceidratio" => SamplerKind::TraceIdRatio(ratio()),
        "parentbased_always_on" => SamplerKind::ParentBasedAlwaysOn,
        "parentbased_always_off" => SamplerKind::ParentBasedAlwaysOff,
        "parentbased_traceidratio" => SamplerKind::ParentBasedTraceIdRatio(ratio()),
        "xray" => without_xray_sampler(SamplerKind::Xray),
        _ => {
            report_bad_var(
                OTEL_TRACES_SAMPLER,
                &name,
                "expected always_on, always_off, traceidratio, parentbased_* or xray",
                &format!("{from_code:?}"),
            );
            from_code
        }
    }
}

/// `kind`, unless it is the X-Ray sampler and this build has none.
fn without_xray_sampler(kind: SamplerKind) -> SamplerKind {
    #[cfg(not(feature = "xray-sampler"))]
    if kind == SamplerKind::Xray {
        eprintln!(
            "xray: the xray sampler needs the xray-sampler feature of xray-runtime; using parentbased_always_on"
        );
        return SamplerKind::ParentBasedAlwaysOn;
    }
    kind
}

fn resolve_shutdown_timeout(config: &Config, env: Env<'_>) -> Duration {
    let from_code = config.shutdown_timeout.unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT);
    match env(OTEL_BSP_EXPORT_TIMEOUT) {
        None => from_code,
        Some(value) => match value.trim().parse::<u64>() {
            Ok(ms) => Duration::from_millis(ms),
            Err(_) => {
                report_bad_var(
                    OTEL_BSP_EXPORT_TIMEOUT,
                    &value,
                    "expected milliseconds",
                    &format!("{} ms", from_code.as_millis()),
                );
                from_code
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve(config: Config, vars: &[(&str, &str)]) -> Resolved {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Resolved::new(&config, &move |name| {
            map.get(name).cloned().filter(|v| !v.is_empty())
        })
    }

    #[test]
    fn defaults() {
        let r = resolve(Config::new().default_service_name("pkg"), &[]);
        assert!(!r.disabled);
        assert_eq!(r.service_name, "pkg");
        assert_eq!(r.exporters, vec![ExporterKind::Console]);
        assert!(r.exporter_fell_back);
        assert_eq!(r.otlp.protocol, Protocol::HttpProtobuf);
        assert_eq!(
            r.propagators,
            vec![PropagatorKind::Xray, PropagatorKind::TraceContext]
        );
        assert_eq!(r.sampler, SamplerKind::ParentBasedAlwaysOn);
        assert_eq!(r.shutdown_timeout, DEFAULT_SHUTDOWN_TIMEOUT);
    }

    #[test]
    fn environment_beats_code_beats_default() {
        let code = || {
            Config::new()
                .service_name("code")
                .default_service_name("pkg")
        };
        assert_eq!(resolve(code(), &[]).service_name, "code");
        assert_eq!(
            resolve(
                code(),
                &[(OTEL_RESOURCE_ATTRIBUTES, "a=b,service.name=attrs")]
            )
            .service_name,
            "attrs"
        );
        assert_eq!(
            resolve(
                code(),
                &[
                    (OTEL_SERVICE_NAME, "env"),
                    (OTEL_RESOURCE_ATTRIBUTES, "service.name=attrs")
                ]
            )
            .service_name,
            "env"
        );
    }

    #[test]
    fn service_version_yields_to_resource_attributes() {
        let code = || Config::new().service_version("1.2.3");
        assert_eq!(
            resolve(code(), &[]).service_version.as_deref(),
            Some("1.2.3")
        );
        let r = resolve(code(), &[(OTEL_RESOURCE_ATTRIBUTES, "service.version=9")]);
        assert_eq!(r.service_version, None);
    }

    #[test]
    fn exporter_resolution() {
        let json = || Config::new().exporter(ExporterKind::Json);
        assert_eq!(resolve(json(), &[]).exporters, vec![ExporterKind::Json]);
        let r = resolve(json(), &[(OTEL_TRACES_EXPORTER, "otlp")]);
        assert_eq!(r.exporters, vec![ExporterKind::Otlp]);
        // An endpoint variable alone selects OTLP when the code chose nothing.
        let r = resolve(
            Config::new(),
            &[(otlp::OTEL_EXPORTER_OTLP_ENDPOINT, "http://c:4318")],
        );
        assert_eq!(r.exporters, vec![ExporterKind::Otlp]);
        assert!(!r.exporter_fell_back);
        // Several exporters, de-duplicated; `none` alone wins.
        let r = resolve(
            Config::new(),
            &[(OTEL_TRACES_EXPORTER, "otlp, console,otlp")],
        );
        assert_eq!(r.exporters, vec![ExporterKind::Otlp, ExporterKind::Console]);
        let r = resolve(Config::new(), &[(OTEL_TRACES_EXPORTER, "console,none")]);
        assert_eq!(r.exporters, vec![ExporterKind::None]);
        // A bad name falls back to the code's choice.
        let r = resolve(json(), &[(OTEL_TRACES_EXPORTER, "zipkin")]);
        assert_eq!(r.exporters, vec![ExporterKind::Json]);
    }

    #[test]
    fn propagators_resolution() {
        let r = resolve(
            Config::new(),
            &[(OTEL_PROPAGATORS, "tracecontext,baggage,xray-lambda")],
        );
        assert_eq!(
            r.propagators,
            vec![
                PropagatorKind::TraceContext,
                PropagatorKind::Baggage,
                PropagatorKind::XrayLambda
            ]
        );
        assert!(
            resolve(Config::new(), &[(OTEL_PROPAGATORS, "none")])
                .propagators
                .is_empty()
        );
        let r = resolve(
            Config::new().propagators("xray"),
            &[(OTEL_PROPAGATORS, "b3")],
        );
        assert_eq!(r.propagators, vec![PropagatorKind::Xray]);
    }

    #[test]
    fn sampler_resolution() {
        let r = resolve(
            Config::new(),
            &[
                (OTEL_TRACES_SAMPLER, "traceidratio"),
                (OTEL_TRACES_SAMPLER_ARG, "0.05"),
            ],
        );
        assert_eq!(r.sampler, SamplerKind::TraceIdRatio(0.05));
        let r = resolve(
            Config::new(),
            &[
                (OTEL_TRACES_SAMPLER, "parentbased_traceidratio"),
                (OTEL_TRACES_SAMPLER_ARG, "7"),
            ],
        );
        assert_eq!(r.sampler, SamplerKind::ParentBasedTraceIdRatio(1.0));
        let r = resolve(
            Config::new().sampler(SamplerKind::AlwaysOff),
            &[(OTEL_TRACES_SAMPLER, "xray_rules")],
        );
        assert_eq!(r.sampler, SamplerKind::AlwaysOff);
        // X-Ray's rules: chosen by the environment or the code, with their
        // settings resolved only then.
        let r = resolve(
            Config::new(),
            &[
                (OTEL_TRACES_SAMPLER, "XRAY"),
                (OTEL_TRACES_SAMPLER_ARG, "endpoint=none,rules=rules.json"),
            ],
        );
        assert_eq!(r.sampler, SamplerKind::Xray);
        let sampling = r.sampling.expect("X-Ray sampling settings");
        assert_eq!(sampling.endpoint, SamplingEndpoint::None);
        assert_eq!(
            sampling.rules_file,
            Some(std::path::PathBuf::from("rules.json"))
        );
        let r = resolve(Config::new().sampler(SamplerKind::Xray), &[]);
        assert_eq!(r.sampler, SamplerKind::Xray);
        assert!(r.sampling.is_some());
        assert!(resolve(Config::new(), &[]).sampling.is_none());
    }

    #[test]
    fn disabled_and_timeout() {
        assert!(resolve(Config::new(), &[(OTEL_SDK_DISABLED, "TRUE")]).disabled);
        assert!(!resolve(Config::new(), &[(OTEL_SDK_DISABLED, "maybe")]).disabled);
        let code = || Config::new().shutdown_timeout(Duration::from_millis(250));
        assert_eq!(
            resolve(code(), &[]).shutdown_timeout,
            Duration::from_millis(250)
        );
        let r = resolve(code(), &[(OTEL_BSP_EXPORT_TIMEOUT, "1000")]);
        assert_eq!(r.shutdown_timeout, Duration::from_millis(1000));
        let r = resolve(code(), &[(OTEL_BSP_EXPORT_TIMEOUT, "soon")]);
        assert_eq!(r.shutdown_timeout, Duration::from_millis(250));
    }
}
