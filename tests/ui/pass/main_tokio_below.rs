use xray_runtime::{traced, xray_main};

#[traced]
async fn work() -> bool {
    tokio::task::yield_now().await;
    xray_runtime::current_trace_id().is_some()
}

// `#[xray_main]` expands first, inside the async `main`; `#[tokio::main]`
// then runs that body on a multi-thread runtime, and returns its `Result`.
#[xray_main(exporter = none)]
#[tokio::main]
async fn main() -> Result<(), String> {
    assert!(work().await, "#[xray_main] installed no provider");
    let spawned = tokio::spawn(work()).await.map_err(|e| e.to_string())?;
    assert!(spawned);
    Ok(())
}
