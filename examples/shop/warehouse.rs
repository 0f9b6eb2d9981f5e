//! The shop example's warehouse: stock levels over HTTP, traced.
//!
//! `GET /stock/{item}` answers `{"item":7,"available":3}`. Listens on
//! `WAREHOUSE_ADDR` (default `127.0.0.1:3001`).
//!
//! ```sh
//! cargo run --example shop-warehouse
//! ```

#[path = "common.rs"]
mod common;

use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use xray_runtime::{XrayLayer, traced, xray_main};

#[xray_main(service = "warehouse")]
#[tokio::main]
async fn main() -> std::io::Result<()> {
    let app = Router::new()
        .route("/stock/{item}", get(stock))
        .layer(XrayLayer::new());
    common::serve("WAREHOUSE_ADDR", "127.0.0.1:3001", app).await
}

/// Runs inside the request's server span (`GET /stock/{item}`).
async fn stock(Path(item): Path<u64>) -> String {
    let available = count_stock(item).await;
    format!("{{\"item\":{item},\"available\":{available}}}")
}

#[traced(kind = client, name = "SELECT stock", attrs(db.system = "postgresql"), annotations(item = item))]
async fn count_stock(item: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(2)).await;
    item % 5 + 1
}
