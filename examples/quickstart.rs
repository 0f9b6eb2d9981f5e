//! The zero-setup quickstart: traces print as trees on stdout, no collector
//! needed.
//!
//! ```sh
//! cargo run --example quickstart
//! ```

#[path = "shared/shop.rs"]
mod shop;

use xray_runtime::xray_main;

#[xray_main(service = "shop", exporter = console)]
#[tokio::main]
async fn main() {
    shop::run().await;
}
