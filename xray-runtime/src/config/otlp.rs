//! Where and how OTLP goes: the `OTEL_EXPORTER_OTLP_*` variables, each read
//! as the specification says (the `TRACES_` variant wins over the generic
//! one), over what the code gave, over the defaults.

use std::time::Duration;

use super::Config;
use super::env::{Env, first_set, millis, report_bad_var};
use crate::export::Protocol;
use crate::export::otlp::{Compression, OtlpSettings};

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

/// The specification's defaults.
const DEFAULT_HTTP_ENDPOINT: &str = "http://localhost:4318";
const DEFAULT_GRPC_ENDPOINT: &str = "http://localhost:4317";
const DEFAULT_TIMEOUT: Duration = Duration::from_millis(10_000);
/// The path of traces on an OTLP/HTTP receiver.
const TRACES_PATH: &str = "/v1/traces";

/// Whether a variable names an OTLP endpoint (then OTLP is the default
/// exporter).
pub(crate) fn endpoint_variable_set(env: Env<'_>) -> bool {
    env(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT).is_some() || env(OTEL_EXPORTER_OTLP_ENDPOINT).is_some()
}

pub(crate) fn resolve(config: &Config, env: Env<'_>) -> OtlpSettings {
    let protocol = resolve_protocol(config, env);
    OtlpSettings {
        protocol,
        endpoint: resolve_endpoint(config, env, protocol),
        headers: resolve_headers(env),
        timeout: millis(
            env,
            &[
                OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
                OTEL_EXPORTER_OTLP_TIMEOUT,
            ],
            DEFAULT_TIMEOUT,
        ),
        compression: resolve_compression(config, env),
    }
}

fn resolve_protocol(config: &Config, env: Env<'_>) -> Protocol {
    let from_code = config.protocol.unwrap_or(Protocol::HttpProtobuf);
    let Some((name, value)) = first_set(
        env,
        &[
            OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
            OTEL_EXPORTER_OTLP_PROTOCOL,
        ],
    ) else {
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
/// generic variable, or the code's) with `/v1/traces` appended for HTTP.
fn resolve_endpoint(config: &Config, env: Env<'_>, protocol: Protocol) -> String {
    let default = match protocol {
        Protocol::HttpProtobuf => signal_url(DEFAULT_HTTP_ENDPOINT, protocol),
        Protocol::Grpc => DEFAULT_GRPC_ENDPOINT.to_string(),
    };
    if let Some(value) = env(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) {
        return checked_url(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, &value, &default)
            .unwrap_or_else(|| default.clone());
    }
    if let Some(value) = env(OTEL_EXPORTER_OTLP_ENDPOINT) {
        return checked_url(OTEL_EXPORTER_OTLP_ENDPOINT, &value, &default)
            .map_or_else(|| default.clone(), |base| signal_url(&base, protocol));
    }
    config
        .endpoint
        .as_deref()
        .map_or(default, |base| signal_url(base, protocol))
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
fn signal_url(base: &str, protocol: Protocol) -> String {
    let base = base.trim().trim_end_matches('/');
    match protocol {
        Protocol::Grpc => base.to_string(),
        Protocol::HttpProtobuf if base.ends_with(TRACES_PATH) => base.to_string(),
        Protocol::HttpProtobuf => format!("{base}{TRACES_PATH}"),
    }
}

/// `key=value,key2=value2`, values percent-decoded; the generic variable's
/// headers, then the signal-specific one's (which win for the same key).
fn resolve_headers(env: Env<'_>) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = Vec::new();
    for name in [
        OTEL_EXPORTER_OTLP_HEADERS,
        OTEL_EXPORTER_OTLP_TRACES_HEADERS,
    ] {
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

fn resolve_compression(config: &Config, env: Env<'_>) -> Compression {
    let from_code = config.compression.unwrap_or(Compression::None);
    let Some((name, value)) = first_set(
        env,
        &[
            OTEL_EXPORTER_OTLP_TRACES_COMPRESSION,
            OTEL_EXPORTER_OTLP_COMPRESSION,
        ],
    ) else {
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
