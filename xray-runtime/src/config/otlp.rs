//! Where and how OTLP goes: the `OTEL_EXPORTER_OTLP_*` variables, each read
//! as the specification says (the signal's variant, `TRACES_`, `LOGS_` or
//! `METRICS_`, wins over the generic one), over what the code gave, over
//! the defaults.

use std::time::Duration;

use super::Config;
use super::env::{Env, first_set, millis, report_bad_var};
use crate::export::Protocol;
use crate::export::otlp::aws_host;
use crate::export::otlp::{Compression, FileFrom, OtlpSettings, Signal, Signing, TlsFiles};

pub(crate) const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
pub(crate) const OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
pub(crate) const OTEL_EXPORTER_OTLP_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
pub(crate) const OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
pub(crate) const OTEL_EXPORTER_OTLP_HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
pub(crate) const OTEL_EXPORTER_OTLP_TRACES_HEADERS: &str = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";
pub(crate) const OTEL_EXPORTER_OTLP_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
pub(crate) const OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT";
pub(crate) const OTEL_EXPORTER_OTLP_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_COMPRESSION";
pub(crate) const OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: &str =
    "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION";
pub(crate) const OTEL_EXPORTER_OTLP_CERTIFICATE: &str = "OTEL_EXPORTER_OTLP_CERTIFICATE";
pub(crate) const OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: &str =
    "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE";
pub(crate) const OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: &str =
    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE";
pub(crate) const OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE: &str =
    "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE";
pub(crate) const OTEL_EXPORTER_OTLP_CLIENT_KEY: &str = "OTEL_EXPORTER_OTLP_CLIENT_KEY";
pub(crate) const OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY: &str =
    "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY";
pub(crate) const OTEL_EXPORTER_OTLP_INSECURE: &str = "OTEL_EXPORTER_OTLP_INSECURE";
pub(crate) const OTEL_EXPORTER_OTLP_TRACES_INSECURE: &str = "OTEL_EXPORTER_OTLP_TRACES_INSECURE";
pub(crate) const XRAY_OTLP_SIGV4: &str = "XRAY_OTLP_SIGV4";
pub(crate) const AWS_REGION: &str = "AWS_REGION";
pub(crate) const AWS_DEFAULT_REGION: &str = "AWS_DEFAULT_REGION";

/// The specification's defaults.
const DEFAULT_HTTP_ENDPOINT: &str = "http://localhost:4318";
const DEFAULT_GRPC_ENDPOINT: &str = "http://localhost:4317";
const DEFAULT_TIMEOUT: Duration = Duration::from_millis(10_000);

/// The signal-specific variables of one signal, each read before its
/// generic `OTEL_EXPORTER_OTLP_*` counterpart.
#[derive(Debug)]
pub(crate) struct SignalVars {
    pub signal: Signal,
    pub endpoint: &'static str,
    protocol: &'static str,
    headers: &'static str,
    timeout: &'static str,
    compression: &'static str,
    certificate: &'static str,
    client_certificate: &'static str,
    client_key: &'static str,
    insecure: &'static str,
}

/// `OTEL_EXPORTER_OTLP_TRACES_*`.
pub(crate) const TRACES: SignalVars = SignalVars {
    signal: Signal::Traces,
    endpoint: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
    protocol: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
    headers: OTEL_EXPORTER_OTLP_TRACES_HEADERS,
    timeout: OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
    compression: OTEL_EXPORTER_OTLP_TRACES_COMPRESSION,
    certificate: OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE,
    client_certificate: OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE,
    client_key: OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY,
    insecure: OTEL_EXPORTER_OTLP_TRACES_INSECURE,
};

/// `OTEL_EXPORTER_OTLP_LOGS_*`.
pub(crate) const LOGS: SignalVars = SignalVars {
    signal: Signal::Logs,
    endpoint: "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    protocol: "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
    headers: "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
    timeout: "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT",
    compression: "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION",
    certificate: "OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE",
    client_certificate: "OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE",
    client_key: "OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY",
    insecure: "OTEL_EXPORTER_OTLP_LOGS_INSECURE",
};

/// `OTEL_EXPORTER_OTLP_METRICS_*`.
pub(crate) const METRICS: SignalVars = SignalVars {
    signal: Signal::Metrics,
    endpoint: "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    protocol: "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    headers: "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
    timeout: "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
    compression: "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
    certificate: "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE",
    client_certificate: "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE",
    client_key: "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY",
    insecure: "OTEL_EXPORTER_OTLP_METRICS_INSECURE",
};

/// Whether a variable names an OTLP endpoint for `vars`' signal (then OTLP
/// is the signal's default exporter). For logs and metrics, the generic
/// `OTEL_EXPORTER_OTLP_ENDPOINT` counts only when it is a collector's: not
/// an AWS service's own host (X-Ray's takes traces alone) and not when
/// requests are signed for AWS (`XRAY_OTLP_SIGV4=true`: an AWS endpoint
/// behind a proxy or a VPC endpoint). Their own variables always count.
pub(crate) fn endpoint_variable_set_for(env: Env<'_>, vars: &SignalVars) -> bool {
    if env(vars.endpoint).is_some() {
        return true;
    }
    let Some(generic) = env(OTEL_EXPORTER_OTLP_ENDPOINT) else {
        return false;
    };
    if vars.signal == Signal::Traces {
        return true;
    }
    let generic = generic.trim();
    // The host is all that is read here: any scheme will do.
    let url = if generic.contains("://") {
        generic.to_string()
    } else {
        format!("https://{generic}")
    };
    let aws_service = aws_host::host_of(&url)
        .and_then(aws_host::service_and_region)
        .is_some();
    let signed = matches!(sigv4_asked(env), Some(Ok(true)));
    !(aws_service || signed)
}

/// `XRAY_OTLP_SIGV4` when set: `Ok(true)` or `Ok(false)`, else the value
/// that is neither.
fn sigv4_asked(env: Env<'_>) -> Option<Result<bool, String>> {
    let value = env(XRAY_OTLP_SIGV4)?;
    Some(match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(value),
    })
}

/// Whether a variable names an OTLP endpoint for traces.
pub(crate) fn endpoint_variable_set(env: Env<'_>) -> bool {
    endpoint_variable_set_for(env, &TRACES)
}

/// Where and how traces go over OTLP.
pub(crate) fn resolve(config: &Config, env: Env<'_>) -> OtlpSettings {
    resolve_signal(config, env, &TRACES, &[])
}

/// Where and how `vars`' signal goes over OTLP; `default_headers` (from
/// the code) are sent unless a variable sets the same header.
pub(crate) fn resolve_signal(
    config: &Config,
    env: Env<'_>,
    vars: &SignalVars,
    default_headers: &[(String, String)],
) -> OtlpSettings {
    let mut protocol = resolve_protocol(config, env, vars);
    let mut endpoint = resolve_endpoint(config, env, vars, protocol);
    let signing = resolve_signing(env, &endpoint, vars.signal);
    if signing.is_some() && protocol == Protocol::Grpc {
        // AWS's OTLP endpoints take OTLP/HTTP only.
        eprintln!(
            "xray: the OTLP endpoint {endpoint} is signed with SigV4, which AWS accepts over \
             OTLP/HTTP only; using http/protobuf instead of grpc"
        );
        protocol = Protocol::HttpProtobuf;
        endpoint = resolve_endpoint(config, env, vars, protocol);
    }
    let mut headers = default_headers.to_vec();
    for (key, value) in resolve_headers(env, vars) {
        headers.retain(|(k, _)| !k.eq_ignore_ascii_case(&key));
        headers.push((key, value));
    }
    OtlpSettings {
        signal: vars.signal,
        protocol,
        endpoint,
        headers,
        timeout: resolve_timeout(env, vars),
        compression: resolve_compression(config, env, vars),
        tls: resolve_tls_files(env, vars),
        signing,
    }
}

/// AWS's own OTLP endpoint for `vars`' signal (AWS X-Ray's for traces,
/// CloudWatch Logs' for logs), in the region of `AWS_REGION` or
/// `AWS_DEFAULT_REGION` (else the profile's, found when the exporter
/// starts); `default_headers` as in [`resolve_signal`].
pub(crate) fn resolve_aws(
    config: &Config,
    env: Env<'_>,
    vars: &SignalVars,
    default_headers: &[(String, String)],
) -> OtlpSettings {
    let region = resolve_region(env);
    let service = vars.signal.signing_service();
    let mut headers = default_headers.to_vec();
    for (key, value) in resolve_headers(env, vars) {
        headers.retain(|(k, _)| !k.eq_ignore_ascii_case(&key));
        headers.push((key, value));
    }
    OtlpSettings {
        signal: vars.signal,
        protocol: Protocol::HttpProtobuf,
        endpoint: region
            .as_deref()
            .map(|region| aws_host::service_endpoint(service, region, vars.signal.http_path()))
            .unwrap_or_default(),
        headers,
        timeout: resolve_timeout(env, vars),
        compression: resolve_compression(config, env, vars),
        tls: resolve_tls_files(env, vars),
        signing: Some(Signing {
            service: service.to_string(),
            region,
        }),
    }
}

/// AWS X-Ray's OTLP endpoint (exporter `xray`).
pub(crate) fn resolve_xray(config: &Config, env: Env<'_>) -> OtlpSettings {
    resolve_aws(config, env, &TRACES, &[])
}

fn resolve_timeout(env: Env<'_>, vars: &SignalVars) -> Duration {
    millis(
        env,
        &[vars.timeout, OTEL_EXPORTER_OTLP_TIMEOUT],
        DEFAULT_TIMEOUT,
    )
}
/// The region of `AWS_REGION`, else `AWS_DEFAULT_REGION`.
fn resolve_region(env: Env<'_>) -> Option<String> {
    let (name, value) = first_set(env, &[AWS_REGION, AWS_DEFAULT_REGION])?;
    let region = value.trim().to_ascii_lowercase();
    if aws_host::is_region(&region) {
        Some(region)
    } else {
        report_bad_var(
            name,
            &value,
            "not an AWS region such as us-east-1",
            "the profile's",
        );
        None
    }
}

/// Signing for AWS hosts (`xray.<region>.amazonaws.com`), or for any host
/// when `XRAY_OTLP_SIGV4=true` (as the service that takes `signal`); never
/// when it is `false`.
fn resolve_signing(env: Env<'_>, endpoint: &str, signal: Signal) -> Option<Signing> {
    let from_host = aws_host::host_of(endpoint).and_then(aws_host::service_and_region);
    let asked = match sigv4_asked(env) {
        None => None,
        Some(Ok(asked)) => Some(asked),
        Some(Err(value)) => {
            report_bad_var(
                XRAY_OTLP_SIGV4,
                &value,
                "expected true or false",
                "signing AWS hosts only",
            );
            None
        }
    };
    match (asked, from_host) {
        (Some(false), _) => None,
        (_, Some((service, region))) => Some(Signing {
            service,
            region: Some(region),
        }),
        (Some(true), None) => Some(Signing {
            service: signal.signing_service().to_string(),
            region: resolve_region(env),
        }),
        (None, None) => None,
    }
}

/// The TLS files, each from its signal's variable or the generic one.
fn resolve_tls_files(env: Env<'_>, vars: &SignalVars) -> TlsFiles {
    let file = |names: [&'static str; 2]| {
        first_set(env, &names).map(|(variable, path)| FileFrom {
            variable,
            path: path.trim().into(),
        })
    };
    TlsFiles {
        ca: file([vars.certificate, OTEL_EXPORTER_OTLP_CERTIFICATE]),
        client_certificate: file([
            vars.client_certificate,
            OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE,
        ]),
        client_key: file([vars.client_key, OTEL_EXPORTER_OTLP_CLIENT_KEY]),
    }
}

/// `OTEL_EXPORTER_OTLP_(TRACES_)INSECURE`: plain text for a gRPC endpoint
/// written without a scheme.
fn resolve_insecure(env: Env<'_>, vars: &SignalVars) -> bool {
    let Some((name, value)) = first_set(env, &[vars.insecure, OTEL_EXPORTER_OTLP_INSECURE]) else {
        return false;
    };
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => true,
        "false" => false,
        _ => {
            report_bad_var(name, &value, "expected true or false", "false (TLS)");
            false
        }
    }
}

fn resolve_protocol(config: &Config, env: Env<'_>, vars: &SignalVars) -> Protocol {
    let from_code = config.protocol.unwrap_or(Protocol::HttpProtobuf);
    let Some((name, value)) = first_set(env, &[vars.protocol, OTEL_EXPORTER_OTLP_PROTOCOL]) else {
        return from_code;
    };
    match value.trim() {
        "grpc" => Protocol::Grpc,
        "http/protobuf" | "http" => Protocol::HttpProtobuf,
        _ => {
            report_bad_var(
                name,
                &value,
                "expected grpc or http/protobuf",
                from_code.name(),
            );
            from_code
        }
    }
}

/// The full URL: a signal-specific endpoint as given; a base endpoint (the
/// generic variable, or the code's) with the signal's path (`/v1/traces`)
/// appended for HTTP.
fn resolve_endpoint(
    config: &Config,
    env: Env<'_>,
    vars: &SignalVars,
    protocol: Protocol,
) -> String {
    let path = vars.signal.http_path();
    let default = match protocol {
        Protocol::HttpProtobuf => signal_url(DEFAULT_HTTP_ENDPOINT, protocol, path),
        Protocol::Grpc => DEFAULT_GRPC_ENDPOINT.to_string(),
    };
    let with_scheme = |value: String| -> String {
        // The specification: a gRPC endpoint written without a scheme uses
        // TLS unless `OTEL_EXPORTER_OTLP_INSECURE` says otherwise.
        let value = value.trim().to_string();
        if protocol == Protocol::Grpc && !value.contains("://") {
            let scheme = if resolve_insecure(env, vars) {
                "http"
            } else {
                "https"
            };
            format!("{scheme}://{value}")
        } else {
            value
        }
    };
    if let Some(value) = env(vars.endpoint) {
        return checked_url(vars.endpoint, &with_scheme(value), &default)
            .unwrap_or_else(|| default.clone());
    }
    if let Some(value) = env(OTEL_EXPORTER_OTLP_ENDPOINT) {
        return checked_url(OTEL_EXPORTER_OTLP_ENDPOINT, &with_scheme(value), &default)
            .map_or_else(|| default.clone(), |base| signal_url(&base, protocol, path));
    }
    config
        .endpoint
        .as_deref()
        .map_or(default, |base| signal_url(base, protocol, path))
}

/// `value` when it is an `http://` or `https://` URL with a host.
fn checked_url(name: &'static str, value: &str, fallback: &str) -> Option<String> {
    let value = value.trim();
    let host = value
        .strip_prefix("http://")
        .or_else(|| value.strip_prefix("https://"))
        .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or_default());
    match host {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => {
            Some(value.to_string())
        }
        _ => {
            report_bad_var(name, value, "expected an http:// or https:// URL", fallback);
            None
        }
    }
}

/// `OTEL_EXPORTER_OTLP_ENDPOINT` semantics: a base URL to which the signal
/// path is appended (for HTTP; gRPC takes the server's URL as it is).
fn signal_url(base: &str, protocol: Protocol, path: &str) -> String {
    let base = base.trim().trim_end_matches('/');
    match protocol {
        Protocol::Grpc => base.to_string(),
        Protocol::HttpProtobuf if base.ends_with(path) => base.to_string(),
        Protocol::HttpProtobuf => format!("{base}{path}"),
    }
}

/// `key=value,key2=value2`, values percent-decoded; the generic variable's
/// headers, then the signal-specific one's (which win for the same key).
fn resolve_headers(env: Env<'_>, vars: &SignalVars) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = Vec::new();
    for name in [OTEL_EXPORTER_OTLP_HEADERS, vars.headers] {
        let Some(value) = env(name) else { continue };
        for pair in value.split(',').filter(|p| !p.trim().is_empty()) {
            let parsed = pair
                .split_once('=')
                .and_then(|(k, v)| Some((k.trim(), percent_decode(v.trim())?)))
                .filter(|(k, _)| is_token(k));
            match parsed {
                Some((key, value)) => {
                    headers.retain(|(k, _)| !k.eq_ignore_ascii_case(key));
                    headers.push((key.to_string(), value));
                }
                None => report_bad_var(
                    name,
                    &value,
                    &format!("{pair:?} is not key=value with a valid header name"),
                    "the other headers",
                ),
            }
        }
    }
    headers
}

/// An HTTP header name (RFC 9110 token).
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// `%XX` sequences decoded; `None` for a malformed one or invalid UTF-8.
fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn resolve_compression(config: &Config, env: Env<'_>, vars: &SignalVars) -> Compression {
    let from_code = config.compression.unwrap_or(Compression::None);
    let Some((name, value)) = first_set(env, &[vars.compression, OTEL_EXPORTER_OTLP_COMPRESSION])
    else {
        return from_code;
    };
    match value.trim().to_ascii_lowercase().as_str() {
        "gzip" => Compression::Gzip,
        "none" => Compression::None,
        _ => {
            report_bad_var(name, &value, "expected gzip or none", "no compression");
            Compression::None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve_with(config: Config, vars: &[(&str, &str)]) -> OtlpSettings {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        resolve(&config, &move |name| map.get(name).cloned())
    }

    #[test]
    fn defaults_follow_the_protocol() {
        let s = resolve_with(Config::new(), &[]);
        assert_eq!(s.protocol, Protocol::HttpProtobuf);
        assert_eq!(s.endpoint, "http://localhost:4318/v1/traces");
        assert_eq!(s.timeout, Duration::from_secs(10));
        assert_eq!(s.compression, Compression::None);
        let s = resolve_with(Config::new().protocol(Protocol::Grpc), &[]);
        assert_eq!(s.endpoint, "http://localhost:4317");
    }

    #[test]
    fn endpoints_as_the_specification_says() {
        let s = resolve_with(
            Config::new().endpoint("http://code:4318"),
            &[(OTEL_EXPORTER_OTLP_ENDPOINT, "http://env:4318/base/")],
        );
        assert_eq!(s.endpoint, "http://env:4318/base/v1/traces");
        let s = resolve_with(
            Config::new(),
            &[
                (OTEL_EXPORTER_OTLP_ENDPOINT, "http://env:4318"),
                (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, "https://x:443/custom"),
            ],
        );
        assert_eq!(s.endpoint, "https://x:443/custom");
        let s = resolve_with(Config::new().endpoint("http://code:4318"), &[]);
        assert_eq!(s.endpoint, "http://code:4318/v1/traces");
        let s = resolve_with(Config::new().endpoint("http://code:4318/v1/traces"), &[]);
        assert_eq!(s.endpoint, "http://code:4318/v1/traces");
        let s = resolve_with(
            Config::new(),
            &[(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, "localhost:4318")],
        );
        assert_eq!(
            s.endpoint, "http://localhost:4318/v1/traces",
            "bad URL: default"
        );
    }

    #[test]
    fn protocol_compression_and_timeout() {
        let s = resolve_with(
            Config::new().protocol(Protocol::Grpc).gzip(true),
            &[
                (OTEL_EXPORTER_OTLP_PROTOCOL, "http/protobuf"),
                (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, "grpc"),
                (OTEL_EXPORTER_OTLP_COMPRESSION, "none"),
                (OTEL_EXPORTER_OTLP_TIMEOUT, "2500"),
            ],
        );
        assert_eq!(s.protocol, Protocol::Grpc);
        assert_eq!(s.compression, Compression::None);
        assert_eq!(s.timeout, Duration::from_millis(2500));
        let s = resolve_with(
            Config::new().gzip(true),
            &[(OTEL_EXPORTER_OTLP_TRACES_COMPRESSION, "brotli")],
        );
        assert_eq!(s.compression, Compression::None, "unknown: uncompressed");
        let s = resolve_with(Config::new().gzip(true), &[]);
        assert_eq!(s.compression, Compression::Gzip);
    }

    #[test]
    fn aws_endpoints_are_signed_over_http() {
        let s = resolve_with(
            Config::new().protocol(Protocol::Grpc),
            &[(
                OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
                "https://xray.us-west-2.amazonaws.com/v1/traces",
            )],
        );
        assert_eq!(s.protocol, Protocol::HttpProtobuf, "gRPC is overridden");
        assert_eq!(
            s.signing,
            Some(Signing {
                service: "xray".into(),
                region: Some("us-west-2".into())
            })
        );
        let s = resolve_with(
            Config::new().endpoint("https://proxy.internal:4318"),
            &[(XRAY_OTLP_SIGV4, "true"), (AWS_DEFAULT_REGION, "eu-west-1")],
        );
        assert_eq!(
            s.signing,
            Some(Signing {
                service: "xray".into(),
                region: Some("eu-west-1".into())
            })
        );
        let s = resolve_with(
            Config::new().endpoint("https://xray.us-east-1.amazonaws.com"),
            &[(XRAY_OTLP_SIGV4, "false")],
        );
        assert_eq!(s.signing, None);
        assert_eq!(resolve_with(Config::new(), &[]).signing, None);
    }

    #[test]
    fn the_xray_exporter_finds_its_endpoint_from_the_region() {
        let s = resolve_xray(&Config::new(), &|name| {
            (name == AWS_REGION).then(|| "ap-southeast-2".to_string())
        });
        assert_eq!(
            s.endpoint,
            "https://xray.ap-southeast-2.amazonaws.com/v1/traces"
        );
        assert_eq!(s.protocol, Protocol::HttpProtobuf);
        let s = resolve_xray(&Config::new(), &|_| None);
        assert_eq!(s.endpoint, "", "left to the profile");
        assert_eq!(s.signing.map(|s| s.region), Some(None));
        assert_eq!(
            aws_host::service_endpoint("xray", "cn-north-1", "/v1/traces"),
            "https://xray.cn-north-1.amazonaws.com.cn/v1/traces"
        );
    }

    #[test]
    fn tls_files_and_insecure_grpc() {
        let s = resolve_with(
            Config::new().protocol(Protocol::Grpc),
            &[
                (OTEL_EXPORTER_OTLP_CERTIFICATE, "/etc/generic.pem"),
                (OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE, "/etc/traces.pem"),
                (OTEL_EXPORTER_OTLP_CLIENT_KEY, "/etc/key.pem"),
                (OTEL_EXPORTER_OTLP_ENDPOINT, "collector:4317"),
            ],
        );
        assert_eq!(
            s.tls.ca,
            Some(FileFrom {
                variable: OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE,
                path: "/etc/traces.pem".into()
            })
        );
        assert_eq!(s.tls.client_certificate, None);
        assert!(s.tls.client_key.is_some());
        assert_eq!(s.endpoint, "https://collector:4317");
        let s = resolve_with(
            Config::new().protocol(Protocol::Grpc),
            &[
                (OTEL_EXPORTER_OTLP_ENDPOINT, "collector:4317"),
                (OTEL_EXPORTER_OTLP_INSECURE, "true"),
            ],
        );
        assert_eq!(s.endpoint, "http://collector:4317");
    }

    #[test]
    fn headers_are_decoded_and_the_traces_ones_win() {
        let s = resolve_with(
            Config::new(),
            &[
                (
                    OTEL_EXPORTER_OTLP_HEADERS,
                    "api-key=a%20b, x-team=core,bad pair",
                ),
                (OTEL_EXPORTER_OTLP_TRACES_HEADERS, "X-Team=traces"),
            ],
        );
        assert_eq!(
            s.headers,
            vec![
                ("api-key".to_string(), "a b".to_string()),
                ("X-Team".to_string(), "traces".to_string())
            ]
        );
        assert_eq!(percent_decode("%zz"), None);
    }
}
