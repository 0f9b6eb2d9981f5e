//! `#[tokio::main]` above `#[xray_main]`: the guard is created before the
//! runtime and dropped after it has shut down, so even the span of a task the
//! runtime abandons at shutdown is ended, and flushed, before exit.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use xray_runtime::{traced, xray_main, xray_root};

static ABANDONED_STARTED: AtomicBool = AtomicBool::new(false);

#[tokio::main]
#[xray_main(service = "exit-tokio-below", exporter = json)]
async fn main() {
    let handles: Vec<_> = (0..3).map(|id| tokio::spawn(below_worker(id))).collect();
    for handle in handles {
        handle.await.expect("a worker task");
    }
    // A task still pending when main returns: the runtime drops it.
    tokio::spawn(below_abandoned());
    while !ABANDONED_STARTED.load(Ordering::Acquire) {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[xray_root(args(id))]
async fn below_worker(id: i64) -> i64 {
    tokio::time::sleep(Duration::from_millis(5)).await;
    below_fetch(id).await + 1
}

#[traced(args(id))]
async fn below_fetch(id: i64) -> i64 {
    tokio::task::yield_now().await;
    id * 10
}

#[xray_root]
async fn below_abandoned() {
    ABANDONED_STARTED.store(true, Ordering::Release);
    tokio::time::sleep(Duration::from_secs(3600)).await;
}
