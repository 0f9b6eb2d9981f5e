//! Configuration 2: xray's `#[traced]` and `#[xray_root]`.

use xray_runtime::{Config, Guard, SamplerKind, SignalExporter, XraySampling, traced, xray_root};

use crate::{DropExporter, body};

/// One `#[traced]` span around the body. With no current span it starts a
/// new trace; under a root it is a child.
#[traced(name = "bench_span")]
#[inline(never)]
pub fn span(x: u64) -> u64 {
    body(x)
}

/// [`span`] with its duration recorded (`#[traced(metrics)]`).
#[traced(name = "bench_span", metrics)]
#[inline(never)]
pub fn metered_span(x: u64) -> u64 {
    body(x)
}

/// A `#[traced]` parent that calls 10 `#[traced]` children: 11 spans.
#[traced(name = "bench_parent")]
#[inline(never)]
pub fn nested(x: u64) -> u64 {
    let mut acc = body(x);
    for i in 0..10 {
        acc ^= span(x.wrapping_add(i));
    }
    acc
}

/// A new trace per call: `#[xray_root]` around the body.
#[xray_root(name = "bench_root")]
#[inline(never)]
pub fn root(x: u64) -> u64 {
    body(x)
}

/// A new trace per call for an HTTP request, as a server would start it:
/// `#[xray_root]` with the request's method and path, which X-Ray's
/// sampling rules match.
#[xray_root(name = "bench_http_root", attrs(http.request.method = "GET", url.path = "/api/v1/service19/orders/42"))]
#[inline(never)]
pub fn http_root(x: u64) -> u64 {
    body(x)
}

/// 20 X-Ray sampling rules with wildcard paths (prefix, infix `*`, leading
/// `*`, `?`; methods and hosts on some), the one matching [`http_root`]'s
/// request last, then `Default`; every rule samples with `rate`.
fn twenty_rules(rate: f64) -> String {
    let rules: Vec<String> = (0..20)
        .map(|i| {
            let path = match i % 4 {
                0 => format!("/api/v1/service{i}/*"),
                1 => format!("/api/v1/service{i}/*/items"),
                2 => format!("*/service{i}/health"),
                _ => format!("/api/v?/service{i}/*"),
            };
            let method = if i % 2 == 0 { "GET" } else { "*" };
            let host = if i % 3 == 0 { "*.example.com" } else { "*" };
            format!(
                r#"{{"RuleName": "rule-{i:02}", "Priority": {}, "FixedRate": {rate}, "ReservoirSize": 0,
                "ServiceName": "*", "ServiceType": "*", "Host": "{host}", "HTTPMethod": "{method}",
                "URLPath": "{path}", "ResourceARN": "*", "Version": 1}}"#,
                i + 1
            )
        })
        .collect();
    format!(
        r#"[{}, {{"RuleName": "Default", "Priority": 10000, "FixedRate": {rate}, "ReservoirSize": 0,
        "ServiceName": "*", "ServiceType": "*", "Host": "*", "HTTPMethod": "*", "URLPath": "*",
        "ResourceARN": "*", "Version": 1}}]"#,
        rules.join(", ")
    )
}

/// Installs xray with X-Ray's sampling rules (local only: [`twenty_rules`]
/// at `rate`, so every root is sampled at 1.0 and none at 0.0).
pub fn init_rules(rate: f64) -> Guard {
    let file = std::env::temp_dir().join(format!(
        "xray-bench-rules-{}-{rate}.json",
        std::process::id()
    ));
    std::fs::write(&file, twenty_rules(rate)).expect("a temporary rules file");
    let guard = xray_runtime::init(
        Config::new()
            .service_name("xray-bench")
            .with_exporter(DropExporter)
            .sampler(SamplerKind::Xray)
            .xray_sampling(XraySampling::new().local_only().rules_file(&file)),
    );
    let _ = std::fs::remove_file(&file);
    guard
}

/// Runs `f` inside one long-lived `#[xray_root]` span, so that the spans it
/// makes are children of one trace.
#[xray_root(name = "bench_long_root")]
pub fn under_root<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// Installs xray with the [`DropExporter`] behind its batch processor.
pub fn init(sampler: SamplerKind) -> Guard {
    xray_runtime::init(
        Config::new()
            .service_name("xray-bench")
            .with_exporter(DropExporter)
            .sampler(sampler),
    )
}

/// [`init`], with metrics recorded and exported by `metrics`
/// (`SignalExporter::None`: metrics off).
pub fn init_metrics(sampler: SamplerKind, metrics: SignalExporter) -> Guard {
    xray_runtime::init(
        Config::new()
            .service_name("xray-bench")
            .with_exporter(DropExporter)
            .sampler(sampler)
            .metrics(metrics),
    )
}

/// Installs xray with `OTEL_SDK_DISABLED=true`: `init` installs nothing.
///
/// Sets the variable for the rest of the process; call it before any other
/// thread of the process reads the environment.
pub fn init_sdk_disabled() -> Guard {
    // SAFETY: the bench and probe binaries call this from their main thread
    // before starting any thread of their own; no other code of the process
    // reads or writes the environment concurrently at that point.
    unsafe { std::env::set_var("OTEL_SDK_DISABLED", "true") };
    let guard = init(SamplerKind::AlwaysOn);
    assert!(
        !guard.is_active(),
        "OTEL_SDK_DISABLED=true should leave xray inactive"
    );
    guard
}
