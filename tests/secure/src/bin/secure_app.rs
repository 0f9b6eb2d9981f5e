//! A small traced program whose spans go where the environment says
//! (`OTEL_EXPORTER_OTLP_*`, `XRAY_OTLP_SIGV4`, `AWS_*`): `SECURE_REQUESTS`
//! requests (default 10) of two spans each, then it exits with `EXIT_CODE`
//! (default 0). What was lost is on stderr, said by the shutdown.

use std::process::ExitCode;

use xray_runtime::{traced, xray_main, xray_root};

fn number(name: &str, default: u8) -> u8 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[xray_main(service = "secure-app")]
fn main() -> ExitCode {
    for request in 0..number("SECURE_REQUESTS", 10) {
        handle(u64::from(request));
    }
    ExitCode::from(number("EXIT_CODE", 0))
}

#[xray_root(attrs(request = request))]
fn handle(request: u64) -> u64 {
    query(request)
}

#[traced]
fn query(request: u64) -> u64 {
    std::hint::black_box(request * 7)
}
