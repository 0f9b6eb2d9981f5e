//! X-Ray sampling's settings: where centralized rules come from and how
//! often, the local rules file, and adaptive sampling. The keys of
//! `OTEL_TRACES_SAMPLER_ARG` are ADOT's (`endpoint`, `polling_interval`)
//! plus `rules`; `AWS_XRAY_DAEMON_ADDRESS` names the X-Ray daemon as the
//! X-Ray SDKs read it.

use std::path::PathBuf;
use std::time::Duration;

use super::env::{Env, report_bad_var};
use super::{Config, OTEL_TRACES_SAMPLER_ARG};

pub(crate) const AWS_XRAY_DAEMON_ADDRESS: &str = "AWS_XRAY_DAEMON_ADDRESS";
pub(crate) const AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG: &str = "AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG";

/// Where sampling rules and quotas are fetched from when nothing names a
/// place: the X-Ray daemon's (and the CloudWatch agent's, and the ADOT
/// collector's `awsproxy`) usual address.
pub const DEFAULT_SAMPLING_ENDPOINT: &str = "http://localhost:2000";
/// How often rules are fetched, unless configured otherwise (ADOT's default).
pub const DEFAULT_POLLING_INTERVAL: Duration = Duration::from_secs(300);
/// Shorter polling intervals are replaced by the default, as ADOT does.
const MIN_POLLING_INTERVAL: Duration = Duration::from_secs(10);

/// Settings of X-Ray sampling ([`SamplerKind::Xray`](crate::SamplerKind::Xray)),
/// given to [`Config::xray_sampling`].
///
/// Each setting may also come from the environment, which wins:
/// `OTEL_TRACES_SAMPLER_ARG=endpoint=http://localhost:2000,polling_interval=300,rules=rules.json`
/// (`endpoint=none` for local rules alone); the endpoint also from
/// `AWS_XRAY_DAEMON_ADDRESS` (`host:port`, or `tcp:host:port udp:host:port`);
/// adaptive sampling from `AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG`.
///
/// ```no_run
/// use std::time::Duration;
/// use xray_runtime::{Config, SamplerKind, XraySampling};
///
/// let _guard = xray_runtime::init(
///     Config::new().sampler(SamplerKind::Xray).xray_sampling(
///         XraySampling::new()
///             .rules_file("sampling-rules.json")
///             .polling_interval(Duration::from_secs(60)),
///     ),
/// );
/// ```
#[must_use]
#[derive(Clone, Debug, Default)]
pub struct XraySampling {
    endpoint: Option<SamplingEndpoint>,
    polling_interval: Option<Duration>,
    rules_file: Option<PathBuf>,
    adaptive: Option<String>,
}

/// Where centralized rules come from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "xray-sampler"), allow(dead_code))] // read by the poller
pub(crate) enum SamplingEndpoint {
    /// An `http://host:port` base URL.
    Url(String),
    /// Nowhere: local rules alone.
    None,
}

impl XraySampling {
    /// Settings with nothing set: the environment and the defaults decide.
    pub fn new() -> Self {
        Self::default()
    }

    /// The proxy that answers `GetSamplingRules` and `SamplingTargets`:
    /// the X-Ray daemon, the CloudWatch agent or a collector's `awsproxy`,
    /// as an `http://host:port` URL. Default: `AWS_XRAY_DAEMON_ADDRESS`'s
    /// TCP address, else `http://localhost:2000`.
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(SamplingEndpoint::Url(url.into()));
        self
    }

    /// Local rules alone: nothing is fetched from X-Ray.
    pub fn local_only(mut self) -> Self {
        self.endpoint = Some(SamplingEndpoint::None);
        self
    }

    /// How often rules are fetched (at least 10 s). Default 5 minutes.
    pub fn polling_interval(mut self, interval: Duration) -> Self {
        self.polling_interval = Some(interval);
        self
    }

    /// A local rules file: the X-Ray SDKs' format (`version` 2 with `rules`
    /// and `default`, or version 1), or X-Ray's own (a `SamplingRule` as
    /// `aws xray create-sampling-rule --cli-input-json` takes it, or
    /// `SamplingRuleRecords` as `aws xray get-sampling-rules` prints them).
    /// Local rules decide until centralized rules arrive, when they cannot
    /// be fetched, and when they are more than an hour old. Default: one
    /// trace per second and 5% of the rest.
    pub fn rules_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.rules_file = Some(path.into());
        self
    }

    /// Adaptive sampling's configuration, in the format of ADOT's
    /// `AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG` (YAML or JSON text, or the path
    /// of a file holding it). The variable wins when set.
    pub fn adaptive(mut self, config: impl Into<String>) -> Self {
        self.adaptive = Some(config.into());
        self
    }
}

/// X-Ray sampling's settings, resolved.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(not(feature = "xray-sampler"), allow(dead_code))] // read by the poller
pub(crate) struct SamplingSettings {
    pub endpoint: SamplingEndpoint,
    pub polling_interval: Duration,
    pub rules_file: Option<PathBuf>,
    /// Adaptive sampling's configuration (text or a path), and where it
    /// came from (for messages).
    pub adaptive: Option<(&'static str, String)>,
}

/// The keys of `OTEL_TRACES_SAMPLER_ARG` for the `xray` sampler.
#[derive(Default)]
struct SamplerArg {
    endpoint: Option<SamplingEndpoint>,
    polling_interval: Option<Duration>,
    rules_file: Option<PathBuf>,
}

/// Parses `endpoint=...,polling_interval=...,rules=...`.
fn parse_arg(arg: &str) -> Result<SamplerArg, String> {
    let mut parsed = SamplerArg::default();
    for pair in arg.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(format!("{pair:?} is not key=value"));
        };
        let value = value.trim();
        match key.trim() {
            "endpoint" => parsed.endpoint = Some(parse_endpoint(value)?),
            "polling_interval" => {
                let seconds: u64 = value.parse().map_err(|_| {
                    format!("polling_interval {value:?} is not a whole number of seconds")
                })?;
                parsed.polling_interval = Some(Duration::from_secs(seconds));
            }
            "rules" if !value.is_empty() => parsed.rules_file = Some(PathBuf::from(value)),
            "rules" => return Err("rules names no file".into()),
            other => {
                return Err(format!(
                    "unknown key {other:?} (expected endpoint, polling_interval or rules)"
                ));
            }
        }
    }
    Ok(parsed)
}

/// An endpoint as written: `none`, `http://host[:port]`, or `host[:port]`.
fn parse_endpoint(value: &str) -> Result<SamplingEndpoint, String> {
    if value.eq_ignore_ascii_case("none") {
        return Ok(SamplingEndpoint::None);
    }
    let url = if value.contains("://") {
        value.to_string()
    } else {
        format!("http://{value}")
    };
    let Some(rest) = url.strip_prefix("http://") else {
        return Err(format!(
            "endpoint {value:?}: the sampling proxy is reached over http://"
        ));
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
            if port.parse::<u16>().is_err() {
                return Err(format!("endpoint {value:?} has no valid port"));
            }
            host
        }
        _ => authority,
    };
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(format!("endpoint {value:?} names no host"));
    }
    Ok(SamplingEndpoint::Url(url.trim_end_matches('/').to_string()))
}

/// The TCP address in `AWS_XRAY_DAEMON_ADDRESS`: `host:port` (UDP and TCP
/// alike), or `tcp:host:port udp:host:port` in either order.
fn parse_daemon_address(value: &str) -> Result<SamplingEndpoint, String> {
    let parts: Vec<&str> = value.split_whitespace().collect();
    let address = match parts.as_slice() {
        [single] if !single.starts_with("tcp:") && !single.starts_with("udp:") => *single,
        [a, b] => {
            let tcp = [a, b]
                .into_iter()
                .find_map(|p| p.strip_prefix("tcp:"))
                .ok_or("two addresses, but none is tcp:host:port")?;
            if ![a, b].into_iter().any(|p| p.starts_with("udp:")) {
                return Err("two addresses, but none is udp:host:port".into());
            }
            tcp
        }
        _ => return Err("expected host:port, or tcp:host:port udp:host:port".into()),
    };
    let (host, port) = address
        .rsplit_once(':')
        .ok_or_else(|| format!("{address:?} has no port"))?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(format!("{address:?} is not host:port"));
    }
    parse_endpoint(address)
}

/// X-Ray sampling's settings: `OTEL_TRACES_SAMPLER_ARG`'s keys, then
/// `AWS_XRAY_DAEMON_ADDRESS` for the endpoint, then the code's
/// [`XraySampling`], then the defaults.
pub(crate) fn resolve(config: &Config, env: Env<'_>) -> SamplingSettings {
    let code = config.xray_sampling.clone().unwrap_or_default();
    let arg = match env(OTEL_TRACES_SAMPLER_ARG) {
        None => SamplerArg::default(),
        Some(value) => parse_arg(&value).unwrap_or_else(|why| {
            report_bad_var(
                OTEL_TRACES_SAMPLER_ARG,
                &value,
                &why,
                "the X-Ray sampler's settings from code and defaults",
            );
            SamplerArg::default()
        }),
    };
    let daemon = env(AWS_XRAY_DAEMON_ADDRESS).and_then(|value| {
        parse_daemon_address(value.trim())
            .map_err(|why| {
                report_bad_var(
                    AWS_XRAY_DAEMON_ADDRESS,
                    &value,
                    &why,
                    "the sampling endpoint from code, else http://localhost:2000",
                )
            })
            .ok()
    });
    let endpoint = arg
        .endpoint
        .or(daemon)
        .or_else(|| match code.endpoint {
            Some(SamplingEndpoint::Url(url)) => match parse_endpoint(&url) {
                Ok(endpoint) => Some(endpoint),
                Err(why) => {
                    eprintln!(
                        "xray: ignoring the X-Ray sampling {why}; using {DEFAULT_SAMPLING_ENDPOINT}"
                    );
                    None
                }
            },
            other => other,
        })
        .unwrap_or_else(|| SamplingEndpoint::Url(DEFAULT_SAMPLING_ENDPOINT.to_string()));
    let mut polling_interval = arg
        .polling_interval
        .or(code.polling_interval)
        .unwrap_or(DEFAULT_POLLING_INTERVAL);
    if polling_interval < MIN_POLLING_INTERVAL {
        eprintln!(
            "xray: the X-Ray sampling polling interval ({} s) is under 10 s; using {} s",
            polling_interval.as_secs_f64(),
            DEFAULT_POLLING_INTERVAL.as_secs()
        );
        polling_interval = DEFAULT_POLLING_INTERVAL;
    }
    let adaptive = env(AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG)
        .map(|value| (AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG, value))
        .or_else(|| {
            code.adaptive
                .map(|value| ("the adaptive sampling configuration", value))
        });
    SamplingSettings {
        endpoint,
        polling_interval,
        rules_file: arg.rules_file.or(code.rules_file),
        adaptive,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(config: Config, vars: &[(&str, &str)]) -> SamplingSettings {
        let env = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        resolve(&config, &env)
    }

    fn url(u: &str) -> SamplingEndpoint {
        SamplingEndpoint::Url(u.to_string())
    }

    #[test]
    fn defaults() {
        let s = resolved(Config::new(), &[]);
        assert_eq!(s.endpoint, url(DEFAULT_SAMPLING_ENDPOINT));
        assert_eq!(s.polling_interval, DEFAULT_POLLING_INTERVAL);
        assert_eq!(s.rules_file, None);
        assert_eq!(s.adaptive, None);
    }

    #[test]
    fn the_argument_wins_then_the_daemon_address_then_code() {
        let code = || {
            Config::new().xray_sampling(
                XraySampling::new()
                    .endpoint("http://code:2000")
                    .polling_interval(Duration::from_secs(60))
                    .rules_file("code.json"),
            )
        };
        let s = resolved(
            code(),
            &[
                (
                    OTEL_TRACES_SAMPLER_ARG,
                    "endpoint=http://arg:2000, polling_interval=30,rules=arg.json",
                ),
                (AWS_XRAY_DAEMON_ADDRESS, "daemon:2000"),
            ],
        );
        assert_eq!(s.endpoint, url("http://arg:2000"));
        assert_eq!(s.polling_interval, Duration::from_secs(30));
        assert_eq!(s.rules_file, Some(PathBuf::from("arg.json")));
        let s = resolved(code(), &[(AWS_XRAY_DAEMON_ADDRESS, "daemon:2000")]);
        assert_eq!(s.endpoint, url("http://daemon:2000"));
        assert_eq!(s.polling_interval, Duration::from_secs(60));
        assert_eq!(s.rules_file, Some(PathBuf::from("code.json")));
        let s = resolved(code(), &[]);
        assert_eq!(s.endpoint, url("http://code:2000"));
        let s = resolved(
            Config::new().xray_sampling(XraySampling::new().local_only()),
            &[],
        );
        assert_eq!(s.endpoint, SamplingEndpoint::None);
        let s = resolved(code(), &[(OTEL_TRACES_SAMPLER_ARG, "endpoint=none")]);
        assert_eq!(s.endpoint, SamplingEndpoint::None);
    }

    #[test]
    fn both_forms_of_the_daemon_address() {
        for (value, expected) in [
            ("127.0.0.1:3000", "http://127.0.0.1:3000"),
            (
                "tcp:10.0.0.1:2000 udp:10.0.0.2:2001",
                "http://10.0.0.1:2000",
            ),
            (
                "udp:10.0.0.2:2001 tcp:xray-daemon:2000",
                "http://xray-daemon:2000",
            ),
        ] {
            assert_eq!(parse_daemon_address(value), Ok(url(expected)), "{value}");
        }
        for bad in [
            "daemon",
            "tcp:a:1",
            "udp:a:1 udp:b:2",
            "tcp:a:1 tcp:b:2",
            "a:1 b:2 c:3",
            ":2000",
            "host:port",
        ] {
            assert!(parse_daemon_address(bad).is_err(), "{bad}");
        }
        // A bad one falls back to the default.
        let s = resolved(Config::new(), &[(AWS_XRAY_DAEMON_ADDRESS, "daemon")]);
        assert_eq!(s.endpoint, url(DEFAULT_SAMPLING_ENDPOINT));
    }

    #[test]
    fn bad_arguments_fall_back() {
        for bad in [
            "endpoint",
            "polling_interval=soon",
            "color=blue",
            "endpoint=https://proxy:2000",
            "rules=",
            "endpoint=http://",
        ] {
            assert!(parse_arg(bad).is_err(), "{bad}");
        }
        let s = resolved(
            Config::new().xray_sampling(XraySampling::new().rules_file("code.json")),
            &[(OTEL_TRACES_SAMPLER_ARG, "polling_interval=soon")],
        );
        assert_eq!(s.rules_file, Some(PathBuf::from("code.json")));
        assert_eq!(s.polling_interval, DEFAULT_POLLING_INTERVAL);
    }

    #[test]
    fn a_short_polling_interval_is_replaced_by_the_default() {
        let s = resolved(
            Config::new(),
            &[(OTEL_TRACES_SAMPLER_ARG, "polling_interval=5")],
        );
        assert_eq!(s.polling_interval, DEFAULT_POLLING_INTERVAL);
        let s = resolved(
            Config::new(),
            &[(OTEL_TRACES_SAMPLER_ARG, "polling_interval=10")],
        );
        assert_eq!(s.polling_interval, Duration::from_secs(10));
    }

    #[test]
    fn endpoints_without_a_scheme_are_http() {
        assert_eq!(
            parse_endpoint("localhost:2000"),
            Ok(url("http://localhost:2000"))
        );
        assert_eq!(
            parse_endpoint("http://proxy:2000/"),
            Ok(url("http://proxy:2000"))
        );
        assert_eq!(parse_endpoint("NONE"), Ok(SamplingEndpoint::None));
        assert_eq!(parse_endpoint("[::1]:2000"), Ok(url("http://[::1]:2000")));
        assert_eq!(parse_endpoint("daemon"), Ok(url("http://daemon")));
        assert!(parse_endpoint("daemon:port").is_err());
        assert!(parse_endpoint("http://:2000").is_err());
    }
}
