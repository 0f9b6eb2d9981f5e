//! The shop example's customer: places one order with the store, in a new
//! trace that the store and the warehouse continue.
//!
//! Orders item `$1` (default 7) at `STORE_URL` (default
//! `http://127.0.0.1:3000`) and prints `TRACE <x-ray trace id>` and the
//! store's answer.
//!
//! ```sh
//! cargo run --example shop-shopper -- 7
//! ```

use xray_runtime::http::RequestBuilderExt;
use xray_runtime::{xray_main, xray_root};

#[xray_main(service = "shopper")]
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = std::env::var("STORE_URL").unwrap_or_else(|_| "http://127.0.0.1:3000".to_owned());
    let item = match std::env::args().nth(1) {
        Some(arg) => arg.parse()?,
        None => 7,
    };
    let answer = place_order(&reqwest::Client::new(), &store, item).await?;
    println!("{answer}");
    Ok(())
}

#[xray_root(name = "place order", kind = internal, attrs(order.item = item))]
async fn place_order(client: &reqwest::Client, store: &str, item: u64) -> reqwest::Result<String> {
    println!(
        "TRACE {}",
        xray_runtime::current_trace_id().unwrap_or_default()
    );
    client
        .get(format!("{store}/orders/{item}"))
        .send_traced()
        .await?
        .error_for_status()?
        .text()
        .await
}
