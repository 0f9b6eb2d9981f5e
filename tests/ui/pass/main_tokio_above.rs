use xray_runtime::{traced, xray_main};

#[traced]
async fn work() -> bool {
    tokio::task::yield_now().await;
    xray_runtime::current_trace_id().is_some()
}

// `#[tokio::main]` expands first, and keeps `#[xray_main]` on the sync `main`
// it makes: the provider lives around the whole runtime.
#[tokio::main(flavor = "current_thread")]
#[xray_main(exporter = none)]
async fn main() {
    assert!(work().await, "#[xray_main] installed no provider");
    assert!(tokio::spawn(work()).await.unwrap());
}
