// `fn -> impl Future` whose body ends in an `async move` block (or boxes
// one): the returned future is instrumented, not the constructor.
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use xray_runtime::testing::SpanStatus;
use xray_runtime::traced;

#[traced(args(id), ret)]
fn fetch(id: u64) -> impl Future<Output = u64> + Send {
    let doubled = id * 2;
    async move {
        tokio::time::sleep(Duration::from_millis(1)).await;
        doubled
    }
}

#[traced]
fn parse(text: String) -> impl Future<Output = Result<u32, std::num::ParseIntError>> {
    // `?` converts as in the function: the output type is pinned.
    async move { Ok(text.trim().parse::<u32>()? + 1) }
}

#[traced(ret)]
fn boxed(n: u32) -> Pin<Box<dyn Future<Output = u32> + Send + 'static>> {
    Box::pin(async move { n + 1 })
}

#[traced(ret)]
fn boxed_full_path(n: u32) -> Pin<Box<dyn Future<Output = u32>>> {
    ::std::boxed::Box::pin(async move { n + 2 })
}

struct Store {
    name: String,
}

impl Store {
    #[traced(attrs(store = self.name.as_str()), ret)]
    fn name_later(&self) -> impl Future<Output = &str> + '_ {
        async move { self.name.as_str() }
    }
}

#[traced]
fn without_move() -> impl Future<Output = u8> {
    async { 7 }
}

#[traced]
fn output_elsewhere() -> impl std::future::IntoFuture<Output = u8> {
    async move { 8 }
}

fn main() {
    let capture = xray_runtime::testing::capture();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(fetch(2)), 4);
    assert_eq!(runtime.block_on(parse(" 41 ".into())), Ok(42));
    assert!(runtime.block_on(parse("x".into())).is_err());
    assert_eq!(runtime.block_on(boxed(1)), 2);
    assert_eq!(runtime.block_on(boxed_full_path(1)), 3);
    let store = Store {
        name: "orders".into(),
    };
    assert_eq!(runtime.block_on(store.name_later()), "orders");
    assert_eq!(runtime.block_on(without_move()), 7);
    assert_eq!(runtime.block_on(async { output_elsewhere().await }), 8);

    let fetch = capture.span("fetch");
    assert_eq!(fetch.attr_i64("id"), Some(2));
    assert_eq!(fetch.attr_i64("xray.return"), Some(4));
    assert!(fetch.duration() >= Duration::from_millis(1));
    let parses = capture.spans_named("parse");
    assert_eq!(parses[0].status, SpanStatus::Unset);
    assert!(matches!(parses[1].status, SpanStatus::Error(_)));
    assert_eq!(capture.span("boxed").attr_i64("xray.return"), Some(2));
    assert_eq!(
        capture.span("boxed_full_path").attr_i64("xray.return"),
        Some(3)
    );
    let name = capture.span("name_later");
    assert_eq!(name.attr_str("store"), Some("orders"));
    assert_eq!(name.attr_str("xray.return"), Some("orders"));
    capture.span("without_move");
    capture.span("output_elsewhere");
}
