// `metrics` meters calls (their duration, function and outcome) on every
// shape #[traced] takes, and #[xray_root] meters its calls unless told not
// to; `#[xray_main(logs = .., metrics = ..)]` chooses where they go.
use std::future::Future;
use std::pin::Pin;

use xray_runtime::{traced, xray_main, xray_root};

#[traced(metrics)]
fn sync_call(n: u32) -> Result<u32, String> {
    if n == 0 { Err("zero".into()) } else { Ok(n) }
}

#[traced(metrics = true, err = false)]
fn no_errors(n: u32) -> Result<u32, u32> {
    if n == 0 { Err(n) } else { Ok(n) }
}

#[traced(metrics)]
fn returns_nothing() {}

#[traced(metrics)]
async fn async_call(n: u32) -> u32 {
    n + 1
}

#[traced(metrics)]
fn returns_future(n: u32) -> impl Future<Output = u32> + Send {
    async move { n * 2 }
}

#[traced(metrics)]
fn boxed(n: u32) -> Pin<Box<dyn Future<Output = Result<u32, String>> + Send + 'static>> {
    Box::pin(async move { Ok(n) })
}

struct Cart;

#[traced(metrics)]
impl Cart {
    fn total(&self) -> u32 {
        3
    }

    #[traced(metrics = false)]
    fn count(&self) -> u32 {
        1
    }
}

#[xray_root]
fn request() -> u32 {
    Cart.total() + Cart.count()
}

#[xray_root(metrics = false)]
fn unmetered() {}

#[xray_main(service = "metered", exporter = none, logs = none, metrics = console)]
#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(sync_call(2), Ok(2));
    assert!(sync_call(0).is_err());
    assert_eq!(no_errors(0), Err(0));
    returns_nothing();
    assert_eq!(async_call(1).await, 2);
    assert_eq!(returns_future(2).await, 4);
    assert_eq!(boxed(5).await, Ok(5));
    assert_eq!(request(), 4);
    unmetered();
}
