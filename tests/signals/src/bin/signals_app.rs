//! A service that writes logs and makes metrics along with its traces,
//! exporting all three where the environment says (`OTEL_*`).
//!
//! It serves `GET /items/{id}` (axum, `XrayLayer`) on a free port and makes
//! `SIGNALS_CALLS` calls (default 6) of `handle(i)`, an `#[xray_root]`
//! that logs through `tracing` and through `log`, computes in a
//! `#[traced(metrics)]` function, asks its own server over HTTP
//! (`send_traced`), and ends by call number: `i % 3` = 0 returns `Ok`, 1
//! returns `Err`, 2 panics. Per call it prints
//! `CALL <i> <trace id> <span id> <ok|error|fault>` on stdout.
//!
//! With `APP_LOG_GROUP` (and `APP_LOG_STREAM`) set, logs go to CloudWatch
//! Logs through `Config::cloudwatch_logs`.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use xray_runtime::http::RequestBuilderExt;
use xray_runtime::logs::{XrayLogLayer, XrayLogger};
use xray_runtime::{Config, XrayLayer, traced, xray_root};

/// A `log` logger that writes nothing: the records only go out as OTLP.
struct Quiet;

impl log::Log for Quiet {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Info
    }
    fn log(&self, _record: &log::Record<'_>) {}
    fn flush(&self) {}
}

async fn item(Path(id): Path<u64>) -> String {
    tracing::info!(item = id, "serving item");
    format!("item {id}")
}

#[traced(metrics)]
fn compute(i: u64) -> u64 {
    i * 7
}

#[xray_root(name = "handle")]
async fn handle(client: reqwest::Client, server: SocketAddr, i: u64) -> Result<u64, String> {
    let trace_id = xray_runtime::current_trace_id().unwrap_or_default();
    let span_id = xray_runtime::current_span_id().unwrap_or_default();
    let outcome = ["ok", "error", "fault"][(i % 3) as usize];
    println!("CALL {i} {trace_id} {span_id} {outcome}");
    tracing::info!(call = i, "handling call {i}");
    log::warn!(call = i; "via log {i}");
    let value = compute(i);
    let body = client
        .get(format!("http://{server}/items/{i}"))
        .send_traced()
        .await
        .map_err(|e| e.to_string())?
        .text()
        .await
        .map_err(|e| e.to_string())?;
    assert_eq!(body, format!("item {i}"));
    match i % 3 {
        0 => Ok(value),
        1 => Err(format!("call {i} failed")),
        _ => panic!("call {i} panicked"),
    }
}

fn number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let mut config = Config::new().service_name("signals-app");
    if let Ok(group) = std::env::var("APP_LOG_GROUP") {
        let stream = std::env::var("APP_LOG_STREAM").unwrap_or_else(|_| "default".into());
        config = config.cloudwatch_logs(group, stream);
    }
    let guard = xray_runtime::init(config);
    // As in production: INFO and above (hyper and reqwest trace a lot).
    tracing_subscriber::registry()
        .with(LevelFilter::INFO)
        .with(XrayLogLayer::new())
        .init();
    XrayLogger::new(Quiet)
        .install(log::LevelFilter::Info)
        .expect("the only logger");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let server = listener.local_addr().expect("its address");
        let app: Router = Router::new()
            .route("/items/{id}", get(item))
            .layer(XrayLayer::new());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client = reqwest::Client::new();
        for i in 0..number("SIGNALS_CALLS", 6) {
            // A panicking call ends its task, not the program.
            let _ = tokio::spawn(handle(client.clone(), server, i)).await;
        }
    });
    drop(runtime);
    // Everything is exported here, at exit: spans, log records, metrics.
    drop(guard);
}
