// `self: Pin<&mut Self>`, sync and async, as futures and streams write it.
use std::pin::Pin;

use xray_runtime::traced;

struct Counter {
    count: u32,
}

impl Counter {
    #[traced(ret)]
    fn bump(self: Pin<&mut Self>) -> u32 {
        let this = self.get_mut();
        this.count += 1;
        this.count
    }

    #[traced(args(by), ret)]
    async fn bump_later(mut self: Pin<&mut Self>, by: u32) -> u32 {
        tokio::task::yield_now().await;
        self.count += by;
        self.as_mut().bump()
    }

    #[traced]
    fn boxed_pin(self: Pin<Box<Self>>) -> u32 {
        self.count
    }
}

fn main() {
    let capture = xray_runtime::testing::capture();
    let mut counter = Counter { count: 0 };
    assert_eq!(Pin::new(&mut counter).bump(), 1);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(Pin::new(&mut counter).bump_later(5)), 7);
    assert_eq!(Box::pin(counter).boxed_pin(), 7);

    let bumps = capture.spans_named("bump");
    assert_eq!(bumps.len(), 2);
    let later = capture.span("bump_later");
    assert_eq!(later.attr_i64("by"), Some(5));
    assert_eq!(later.attr_i64("xray.return"), Some(7));
    assert_eq!(
        bumps[1].parent_span_id.as_deref(),
        Some(later.span_id.as_str())
    );
    capture.span("boxed_pin");
}
