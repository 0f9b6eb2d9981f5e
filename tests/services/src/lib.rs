//! Services for the HTTP integration tests.
//!
//! A `store` and a `warehouse`, built with axum and traced with
//! [`XrayLayer`]; the store calls the warehouse with reqwest's
//! [`send_traced`](RequestBuilderExt::send_traced), and [`shop`] plays the
//! customer. Every server listens on `127.0.0.1` with a port chosen by the OS.
//!
//! The warehouse answers with the trace headers it received, so that tests
//! can check what crossed each hop.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use tokio::sync::{Barrier, oneshot};
use tokio::task::JoinHandle;
use xray_runtime::http::RequestBuilderExt;
use xray_runtime::{XrayLayer, traced, xray_root};

/// The X-Ray trace header.
pub const XRAY: &str = "x-amzn-trace-id";

/// A server running on the current tokio runtime; stopped when dropped.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Server {
    /// Serves `app` on `127.0.0.1` with an OS-assigned port.
    ///
    /// # Errors
    ///
    /// If the listener cannot be bound.
    pub async fn start(app: Router) -> io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (shutdown, stop) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stop.await;
            });
            if let Err(err) = serve.await {
                eprintln!("server on {addr} stopped: {err}");
            }
        });
        Ok(Self {
            addr,
            shutdown: Some(shutdown),
            task,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        self.task.abort();
    }
}

// ---------------------------------------------------------------------------
// Warehouse

#[derive(Clone, Default)]
struct WarehouseState {
    /// When set, every stock request waits here: the test knows they were all
    /// in flight at once.
    barrier: Option<Arc<Barrier>>,
}

/// The warehouse: `GET /stock/{item}` answers with the trace headers it
/// received (`x-amzn-trace-id: ...` and `traceparent: ...` lines) and records
/// `item` on its server span; `GET /fail` answers 500.
pub fn warehouse() -> Router {
    warehouse_with(WarehouseState::default())
}

/// The warehouse, holding every stock request until `parties` of them are in
/// flight (at most 30 seconds; the span records `barrier.met`).
pub fn warehouse_with_barrier(parties: usize) -> Router {
    warehouse_with(WarehouseState {
        barrier: Some(Arc::new(Barrier::new(parties))),
    })
}

fn warehouse_with(state: WarehouseState) -> Router {
    Router::new()
        .route("/stock/{item}", get(stock))
        .route(
            "/fail",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "out of order") }),
        )
        .layer(XrayLayer::new())
        .with_state(state)
}

async fn stock(
    State(state): State<WarehouseState>,
    Path(item): Path<u64>,
    headers: HeaderMap,
) -> String {
    xray_runtime::set_attribute("item", item);
    if let Some(barrier) = &state.barrier {
        let met = tokio::time::timeout(Duration::from_secs(30), barrier.wait())
            .await
            .is_ok();
        xray_runtime::set_attribute("barrier.met", met);
    }
    count(item).await;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("-")
            .to_owned()
    };
    format!(
        "{XRAY}: {}\ntraceparent: {}",
        header(XRAY),
        header("traceparent")
    )
}

#[traced(args(item))]
async fn count(item: u64) -> u64 {
    tokio::task::yield_now().await;
    item % 7
}

// ---------------------------------------------------------------------------
// Store

#[derive(Clone)]
struct StoreState {
    client: reqwest::Client,
    warehouse: String,
}

/// The store: `GET /orders/{id}` reserves the item at the warehouse (whose
/// answer it returns), `GET /echo` answers `ok`, `GET /boom` answers 500 and
/// `GET /upstream-fail` calls the warehouse's `/fail` (502).
pub fn store(warehouse_url: &str) -> Router {
    let state = StoreState {
        client: reqwest::Client::new(),
        warehouse: warehouse_url.to_owned(),
    };
    Router::new()
        .route("/orders/{id}", get(order))
        .route("/echo", get(|| async { "ok" }))
        .route(
            "/boom",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .route("/upstream-fail", get(upstream_fail))
        .layer(XrayLayer::new())
        .with_state(state)
}

async fn order(State(state): State<StoreState>, Path(id): Path<u64>) -> Result<String, StatusCode> {
    reserve(&state.client, &state.warehouse, id)
        .await
        .map_err(|_| StatusCode::BAD_GATEWAY)
}

#[traced(args(id))]
async fn reserve(client: &reqwest::Client, warehouse: &str, id: u64) -> reqwest::Result<String> {
    client
        .get(format!("{warehouse}/stock/{id}"))
        .send_traced()
        .await?
        .error_for_status()?
        .text()
        .await
}

async fn upstream_fail(State(state): State<StoreState>) -> StatusCode {
    let sent = state
        .client
        .get(format!("{}/fail", state.warehouse))
        .send_traced()
        .await;
    match sent {
        Ok(response) if response.status().is_success() => StatusCode::OK,
        _ => StatusCode::BAD_GATEWAY,
    }
}

// ---------------------------------------------------------------------------
// Shopper

/// What one [`shop`] call saw.
#[derive(Debug, Clone)]
pub struct Visit {
    /// The trace the shopper's root span started.
    pub trace_id: Option<String>,
    /// The store's status code.
    pub status: u16,
    /// The store's `X-Amzn-Trace-Id` response header.
    pub response_header: Option<String>,
    /// The store's body: what the warehouse received.
    pub body: String,
}

/// A customer ordering item `order` at the store: a new trace (root span
/// `shopper`, attribute `order`), one traced request.
///
/// # Errors
///
/// The transport error, if the request could not be made.
#[xray_root(name = "shopper", attrs(order = order))]
pub async fn shop(client: &reqwest::Client, store_url: &str, order: u64) -> reqwest::Result<Visit> {
    let trace_id = xray_runtime::current_trace_id();
    let response = client
        .get(format!("{store_url}/orders/{order}"))
        .send_traced()
        .await?;
    let status = response.status().as_u16();
    let response_header = response
        .headers()
        .get(XRAY)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let body = response.text().await?;
    Ok(Visit {
        trace_id,
        status,
        response_header,
        body,
    })
}

/// The value of the `name: value` line in a warehouse answer.
pub fn seen<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    body.lines().find_map(|line| {
        line.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(": "))
            .filter(|value| *value != "-")
    })
}

/// Whether `id` is an X-Ray trace id: `1-` + 8 + `-` + 24 lowercase hex digits.
pub fn is_xray_trace_id(id: &str) -> bool {
    let hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let mut parts = id.split('-');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next()),
        (Some("1"), Some(epoch), Some(unique), None) if hex(epoch, 8) && hex(unique, 24)
    )
}
