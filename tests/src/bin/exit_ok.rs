//! Normal return from `main`: every span, ended long before the batch
//! processor's schedule delay, must still reach stdout through the shutdown
//! flush. Prints nothing but the exporter's JSON lines.

use xray_runtime::{traced, xray_main, xray_root};

#[xray_main(service = "exit-test", exporter = json)]
fn main() {
    ok_handle_request(7);
}

/// Root, level 1.
#[xray_root(args(order))]
fn ok_handle_request(order: u64) {
    let total = ok_load_order(order);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime");
    runtime.block_on(ok_notify_customer(total));
}

/// Level 2.
#[traced(args(order))]
fn ok_load_order(order: u64) -> u64 {
    ok_query_db(order) + 1
}

/// Level 3.
#[traced(args(order))]
fn ok_query_db(order: u64) -> u64 {
    std::hint::black_box(order * 2)
}

/// Level 2, async.
#[traced(args(total))]
async fn ok_notify_customer(total: u64) {
    tokio::task::yield_now().await;
    ok_send_email(total);
}

/// Level 3, inside the async span.
#[traced(args(total))]
fn ok_send_email(total: u64) {
    std::hint::black_box(total);
}
