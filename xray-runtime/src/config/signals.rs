//! What logs and metrics share in their configuration: the exporter
//! choice (`OTEL_LOGS_EXPORTER`, `OTEL_METRICS_EXPORTER`), resolved as the
//! specification says: the variable when it is set and valid, else the
//! code's choice, else `otlp` when an OTLP endpoint variable is set, else
//! `none`.

use super::env::{Env, report_bad_var};
use super::otlp::{SignalVars, endpoint_variable_set_for};

/// Where log records or metrics go: the argument of
/// [`Config::logs`](crate::Config::logs) and
/// [`Config::metrics`](crate::Config::metrics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignalExporter {
    /// OTLP, to the endpoint of `OTEL_EXPORTER_OTLP_(LOGS_|METRICS_)ENDPOINT`
    /// (or the code's), with the traces' protocol, compression, TLS and
    /// signing settings unless the signal's own variables say otherwise.
    Otlp,
    /// Lines on stdout.
    Console,
    /// Not exported.
    None,
}

impl SignalExporter {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "otlp" => Some(Self::Otlp),
            "console" | "logging" => Some(Self::Console),
            "none" => Some(Self::None),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Otlp => "otlp",
            Self::Console => "console",
            Self::None => "none",
        }
    }
}

/// The exporters of one signal (never `None` among others: an empty list
/// means none).
pub(crate) fn resolve_exporters(
    variable: &'static str,
    from_code: Option<SignalExporter>,
    vars: &SignalVars,
    env: Env<'_>,
) -> Vec<SignalExporter> {
    let default = || match from_code {
        Some(kind) => kind,
        None if endpoint_variable_set_for(env, vars) => SignalExporter::Otlp,
        None => SignalExporter::None,
    };
    let mut kinds = Vec::new();
    if let Some(value) = env(variable) {
        let mut bad = false;
        for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match SignalExporter::parse(&name.to_ascii_lowercase()) {
                Some(kind) if !kinds.contains(&kind) => kinds.push(kind),
                Some(_) => {}
                None => bad = true,
            }
        }
        if bad || kinds.is_empty() {
            let fallback = default();
            report_bad_var(
                variable,
                &value,
                "expected otlp, console or none",
                fallback.name(),
            );
            if kinds.is_empty() {
                kinds.push(fallback);
            }
        }
    } else {
        kinds.push(default());
    }
    if kinds.contains(&SignalExporter::None) {
        kinds.clear();
    }
    kinds
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::otlp::{
        LOGS, OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, XRAY_OTLP_SIGV4,
    };
    use std::collections::HashMap;

    fn exporters(code: Option<SignalExporter>, vars: &[(&str, &str)]) -> Vec<SignalExporter> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        resolve_exporters("OTEL_LOGS_EXPORTER", code, &LOGS, &move |name| {
            map.get(name).cloned()
        })
    }

    #[test]
    fn the_variable_then_the_code_then_an_endpoint_decide() {
        use SignalExporter::{Console, Otlp};
        assert_eq!(exporters(None, &[]), []);
        assert_eq!(exporters(Some(Console), &[]), [Console]);
        assert_eq!(
            exporters(None, &[(OTEL_EXPORTER_OTLP_ENDPOINT, "http://c:4318")]),
            [Otlp]
        );
        assert_eq!(
            exporters(
                None,
                &[("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://c:4318/v1/logs")]
            ),
            [Otlp]
        );
        assert_eq!(
            exporters(
                None,
                &[(
                    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
                    "https://xray.us-east-1.amazonaws.com/v1/traces"
                )]
            ),
            [],
            "the traces' own endpoint says nothing about logs"
        );
        assert_eq!(
            exporters(
                Some(Console),
                &[("OTEL_LOGS_EXPORTER", "otlp,console,otlp")]
            ),
            [Otlp, Console]
        );
        assert_eq!(
            exporters(Some(Console), &[("OTEL_LOGS_EXPORTER", "none")]),
            []
        );
        assert_eq!(
            exporters(Some(Console), &[("OTEL_LOGS_EXPORTER", "kafka")]),
            [Console],
            "a bad value falls back to the code's"
        );
        assert_eq!(
            exporters(None, &[("OTEL_LOGS_EXPORTER", "console,kafka")]),
            [Console],
            "the good names of a list are kept"
        );
    }

    #[test]
    fn the_generic_endpoint_counts_only_when_it_is_a_collectors() {
        use SignalExporter::Otlp;
        const GENERIC: &str = OTEL_EXPORTER_OTLP_ENDPOINT;
        const PROXY: &str = "https://xray-proxy.internal:4318";
        const OWN: (&str, &str) = (
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
            "https://logs.us-east-1.amazonaws.com/v1/logs",
        );
        // The variables set, the exporters expected, why.
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a [SignalExporter], &'a str);
        let cases: [Case<'_>; 6] = [
            (
                &[(GENERIC, "https://xray.us-east-1.amazonaws.com")],
                &[],
                "AWS X-Ray's own endpoint takes traces alone",
            ),
            (
                &[(GENERIC, "xray.us-east-1.amazonaws.com:443")],
                &[],
                "the same, written without a scheme (gRPC)",
            ),
            (
                &[(GENERIC, PROXY), (XRAY_OTLP_SIGV4, "TRUE")],
                &[],
                "requests signed for AWS go to AWS, whose trace endpoint takes no logs",
            ),
            (
                &[(GENERIC, PROXY), (XRAY_OTLP_SIGV4, "false")],
                &[Otlp],
                "unsigned: a collector",
            ),
            (
                &[(GENERIC, PROXY), (XRAY_OTLP_SIGV4, "maybe")],
                &[Otlp],
                "a bad value signs AWS hosts only, and this is none",
            ),
            (
                &[(GENERIC, PROXY), (XRAY_OTLP_SIGV4, "true"), OWN],
                &[Otlp],
                "the signal's own endpoint always counts",
            ),
        ];
        for (vars, expected, why) in cases {
            assert_eq!(exporters(None, vars), expected, "{why}");
        }
    }
}
