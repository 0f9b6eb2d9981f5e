//! `#[xray_main]` above `#[tokio::main]`: the guard is created before the
//! runtime and dropped after it has shut down, so the span of a task the
//! runtime abandons at shutdown is flushed too.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use xray_runtime::{traced, xray_main, xray_root};

static ABANDONED_STARTED: AtomicBool = AtomicBool::new(false);

#[xray_main(service = "exit-tokio", exporter = json)]
#[tokio::main]
async fn main() {
    let handles: Vec<_> = (0..3).map(|id| tokio::spawn(tokio_worker(id))).collect();
    for handle in handles {
        handle.await.expect("a worker task");
    }
    // A task still pending when main returns: the runtime drops it.
    tokio::spawn(tokio_abandoned());
    while !ABANDONED_STARTED.load(Ordering::Acquire) {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[xray_root]
async fn tokio_abandoned() {
    ABANDONED_STARTED.store(true, Ordering::Release);
    tokio::time::sleep(Duration::from_secs(3600)).await;
}

#[xray_root(args(id))]
async fn tokio_worker(id: i64) -> i64 {
    tokio::time::sleep(Duration::from_millis(5)).await;
    tokio_fetch(id).await + 1
}

#[traced(args(id))]
async fn tokio_fetch(id: i64) -> i64 {
    tokio::task::yield_now().await;
    id * 10
}
