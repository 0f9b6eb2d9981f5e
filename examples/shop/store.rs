//! The shop example's store: takes orders over HTTP and checks the stock
//! with the warehouse, traced on both sides.
//!
//! `GET /orders/{id}` asks the warehouse (`WAREHOUSE_URL`, default
//! `http://127.0.0.1:3001`) and prices the order. Listens on `STORE_ADDR`
//! (default `127.0.0.1:3000`).
//!
//! ```sh
//! cargo run --example shop-store
//! ```

#[path = "common.rs"]
mod common;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use xray_runtime::http::RequestBuilderExt;
use xray_runtime::{XrayLayer, traced, xray_main};

#[derive(Clone)]
struct Store {
    client: reqwest::Client,
    warehouse: String,
}

#[xray_main(service = "store")]
#[tokio::main]
async fn main() -> std::io::Result<()> {
    let store = Store {
        client: reqwest::Client::new(),
        warehouse: std::env::var("WAREHOUSE_URL")
            .unwrap_or_else(|_| "http://127.0.0.1:3001".to_owned()),
    };
    let app = Router::new()
        .route("/orders/{id}", get(order))
        .layer(XrayLayer::new())
        .with_state(store);
    common::serve("STORE_ADDR", "127.0.0.1:3000", app).await
}

/// Runs inside the request's server span (`GET /orders/{id}`).
async fn order(State(store): State<Store>, Path(id): Path<u64>) -> Result<String, StatusCode> {
    let stock = check_stock(&store, id)
        .await
        .map_err(|_| StatusCode::BAD_GATEWAY)?;
    Ok(format!("order {id}: stock {stock}, total {}", price(id)))
}

/// One traced call to the warehouse: the client span's context travels in
/// the request's `X-Amzn-Trace-Id` (and `traceparent`) header.
#[traced(args(item))]
async fn check_stock(store: &Store, item: u64) -> reqwest::Result<String> {
    store
        .client
        .get(format!("{}/stock/{item}", store.warehouse))
        .send_traced()
        .await?
        .error_for_status()?
        .text()
        .await
}

#[traced(ret)]
fn price(id: u64) -> u64 {
    1000 + id * 50
}
