//! A program that logs inside and outside traced spans, the way users set
//! their loggers up. `LOG_MODE` chooses the logger, writing to stdout:
//!
//! * `tracing-json`: `tracing_subscriber::fmt().json()` with `TraceIds`;
//! * `tracing-text`: `tracing_subscriber::fmt()` (full text) with `TraceIds`;
//! * `env_logger`: `env_logger` (feature `kv`) inside `XrayLogger`.
//!
//! Every line's message names where it was written; stderr gets one
//! `IDS <where> <trace id> <span id>` line per place inside a span, the ids
//! as `current_trace_id` and `current_span_id` give them.

use xray_runtime::logs::{TraceIds, XrayLogger};
use xray_runtime::{traced, xray_main, xray_root};

/// Logs `message` through the logger of the mode.
fn say(message: &str) {
    if std::env::var("LOG_MODE").as_deref() == Ok("env_logger") {
        log::info!(order = 7; "{message}");
    } else {
        tracing::info!(order = 7, "{message}");
    }
}

/// Says where the program is, with the current ids on stderr.
fn here(place: &str) {
    eprintln!(
        "IDS {place} {} {}",
        xray_runtime::current_trace_id().unwrap_or_default(),
        xray_runtime::current_span_id().unwrap_or_default()
    );
    say(place);
}

#[xray_root(name = "request")]
fn request() {
    here("in-root");
    child();
    here("in-root-again");
}

#[traced]
fn child() {
    here("in-child");
}

/// A root continuing a caller's trace that the caller did not sample: its
/// lines carry the trace's ids all the same.
// `header` is read by the attribute only (unused when tracing is compiled out).
#[allow(unused_variables)]
#[xray_root(name = "unsampled", trace_header = header)]
fn unsampled(header: &str) {
    here("in-unsampled");
}

#[traced]
async fn across_await() {
    here("before-await");
    tokio::task::yield_now().await;
    here("after-await");
}

#[xray_main(service = "log-lines", exporter = none, logs = none, metrics = none)]
fn main() {
    match std::env::var("LOG_MODE").as_deref() {
        Ok("tracing-json") => tracing_subscriber::fmt()
            .json()
            .with_writer(std::io::stdout)
            .map_event_format(TraceIds::new)
            .init(),
        Ok("tracing-text") => tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(std::io::stdout)
            .map_event_format(TraceIds::new)
            .init(),
        Ok("env_logger") => {
            let logger = env_logger::Builder::new()
                .filter_level(log::LevelFilter::Info)
                .target(env_logger::Target::Stdout)
                .build();
            let max = logger.filter();
            XrayLogger::new(logger)
                .install(max)
                .expect("the only logger");
        }
        other => panic!("LOG_MODE: tracing-json, tracing-text or env_logger, not {other:?}"),
    }
    say("outside-before");
    request();
    unsampled("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(across_await());
    say("outside-after");
}
