//! A small checkout service, traced: the program both examples run.

use std::fmt;
use std::time::Duration;

use xray_runtime::{traced, xray_root};

/// A payment the card network refused.
#[derive(Debug)]
pub struct PaymentError(pub String);

impl fmt::Display for PaymentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PaymentError {}

/// Handles two orders, the second of which fails to pay.
pub async fn run() {
    for (order_id, tier) in [(1001, "gold"), (1002, "standard")] {
        match checkout(order_id, tier).await {
            Ok(total) => tracing::info!(order_id, total, "charged"),
            Err(err) => tracing::error!(order_id, %err, "checkout failed"),
        }
    }
}

/// One request: a new trace per call, or the caller's when a header says so.
#[xray_root(name = "POST /checkout", kind = server, attrs(order.id = order_id), annotations(tier = tier))]
async fn checkout(order_id: u64, tier: &str) -> Result<u32, PaymentError> {
    tracing::info!(order_id, "checkout started");
    let cart = load_cart(order_id).await;
    let total = price(&cart);
    charge(order_id, total).await?;
    Ok(total)
}

#[traced(args(order_id))]
async fn load_cart(order_id: u64) -> Vec<u32> {
    tokio::time::sleep(Duration::from_millis(3)).await;
    query_items(order_id)
}

#[traced(kind = client, name = "SELECT items", attrs(db.system = "postgresql", db.rows = 3))]
fn query_items(order_id: u64) -> Vec<u32> {
    std::thread::sleep(Duration::from_millis(1));
    vec![1200, 350, (order_id % 7) as u32 * 100]
}

#[traced(ret)]
fn price(cart: &[u32]) -> u32 {
    cart.iter().sum()
}

#[traced(kind = client, attrs(payment.amount = total))]
async fn charge(order_id: u64, total: u32) -> Result<(), PaymentError> {
    tokio::time::sleep(Duration::from_millis(2)).await;
    if order_id.is_multiple_of(2) {
        tracing::warn!(order_id, total, "card declined");
        return Err(PaymentError("card declined".into()));
    }
    Ok(())
}
