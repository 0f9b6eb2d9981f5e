//! An AWS Lambda-like process: one warm process, several invocations in a
//! row, each with its own `_X_AMZN_TRACE_ID` (as the Lambda runtime sets it
//! before calling the handler).
//!
//! Each argument is one invocation's trace header. For invocation `k` the
//! program prints `BEGIN k`, sets `_X_AMZN_TRACE_ID`, runs the handler (a root
//! span that makes one traced HTTP call to a local echo server), then prints
//! `OUTGOING k <X-Amzn-Trace-Id the call carried>` and `END k`. Spans go out
//! as JSON lines on stdout (`exporter = json`), so the order of the lines
//! shows when each invocation's spans were flushed.
//!
//! `LAMBDA_MODE=propagator` uses `#[xray_root(headers = ...)]` with the
//! event's own headers (a different trace) instead of `#[xray_root(lambda)]`,
//! and flushes by hand: run with `OTEL_PROPAGATORS=xray-lambda`, the
//! environment's header must win.

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::get;
use xray_runtime::http::RequestBuilderExt;
use xray_runtime::propagation::LAMBDA_TRACE_ENV;
use xray_runtime::{xray_main, xray_root};

/// The header the simulated event carries in `propagator` mode: a trace the
/// handler must not continue when `_X_AMZN_TRACE_ID` is valid.
const EVENT_HEADER: &str =
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

#[xray_main(service = "lambda-fn", exporter = json)]
#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    // The downstream service: answers with the trace header it received.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let echo = format!("http://{}/echo", listener.local_addr()?);
    let app = Router::new().route(
        "/echo",
        get(|headers: HeaderMap| async move {
            headers
                .get("x-amzn-trace-id")
                .and_then(|value| value.to_str().ok())
                .unwrap_or("-")
                .to_owned()
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let by_propagator = std::env::var("LAMBDA_MODE").is_ok_and(|mode| mode == "propagator");
    let client = reqwest::Client::new();
    for (k, header) in std::env::args().skip(1).enumerate() {
        println!("BEGIN {k}");
        // SAFETY: what the Lambda runtime does between invocations; nothing
        // else in this process reads or writes the environment concurrently
        // (the only other threads are tokio's and the exporter's, which do
        // not touch it).
        unsafe { std::env::set_var(LAMBDA_TRACE_ENV, &header) };
        let outgoing = if by_propagator {
            let event: &[(&str, &str)] = &[("x-amzn-trace-id", EVENT_HEADER)];
            let outgoing = invocation_from_event(&client, &echo, k, event).await;
            if let Err(err) = xray_runtime::flush() {
                eprintln!("flush: {err}");
            }
            outgoing
        } else {
            invocation(&client, &echo, k).await
        };
        println!("OUTGOING {k} {outgoing}");
        println!("END {k}");
    }
    Ok(())
}

/// One invocation: continues `_X_AMZN_TRACE_ID`, flushes when it ends.
#[xray_root(lambda, name = "invocation", attrs(invocation = k))]
async fn invocation(client: &reqwest::Client, echo: &str, k: usize) -> String {
    call(client, echo).await
}

/// One invocation, its context from the event's headers through the
/// configured propagators (`xray-lambda` prefers `_X_AMZN_TRACE_ID`).
#[xray_root(headers = event, name = "invocation", attrs(invocation = k))]
async fn invocation_from_event(
    client: &reqwest::Client,
    echo: &str,
    k: usize,
    event: &[(&str, &str)],
) -> String {
    call(client, echo).await
}

async fn call(client: &reqwest::Client, echo: &str) -> String {
    match client.get(echo).send_traced().await {
        Ok(response) => response
            .text()
            .await
            .unwrap_or_else(|err| format!("error {err}")),
        Err(err) => format!("error {err}"),
    }
}
