// Functions written by `macro_rules!`, whose body may reach #[traced] in
// an invisible group (`$body:block`).
use xray_runtime::traced;

macro_rules! traced_fn {
    ($name:ident, $body:block) => {
        #[traced]
        fn $name() -> u32 $body
    };
}

macro_rules! traced_items {
    ($($item:item)*) => {
        $(#[traced(ret)] $item)*
    };
}

traced_fn!(from_block, { 1 });

traced_items! {
    fn from_item() -> u32 { 2 }
    async fn from_async_item() -> u32 { 3 }
}

fn main() {
    let capture = xray_runtime::testing::capture();
    assert_eq!(from_block(), 1);
    assert_eq!(from_item(), 2);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(from_async_item()), 3);
    capture.span("from_block");
    assert_eq!(capture.span("from_item").attr_i64("xray.return"), Some(2));
    assert_eq!(
        capture.span("from_async_item").attr_i64("xray.return"),
        Some(3)
    );
}
