// Default methods of a trait, sync and async, generic, and overridden.
use std::fmt::Debug;

use xray_runtime::traced;

trait Greeter {
    fn who(&self) -> String;

    #[traced(ret)]
    fn greet(&self) -> String {
        format!("hello {}", self.who())
    }

    #[traced(args(times))]
    async fn greet_many(&self, times: usize) -> Vec<String> {
        (0..times).map(|_| self.greet()).collect()
    }

    #[traced(args(extra))]
    fn with<T: Debug>(&self, extra: T) -> String
    where
        Self: Sized,
    {
        format!("{} {extra:?}", self.greet())
    }
}

struct English;
impl Greeter for English {
    fn who(&self) -> String {
        "world".to_string()
    }
}

struct Loud;
impl Greeter for Loud {
    fn who(&self) -> String {
        "WORLD".to_string()
    }

    // An override is not traced unless it says so.
    fn greet(&self) -> String {
        format!("HELLO {}", self.who())
    }
}

fn main() {
    let capture = xray_runtime::testing::capture();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(English.greet_many(2)).len(), 2);
    assert_eq!(English.with(1u8), "hello world 1");
    assert_eq!(Loud.greet(), "HELLO WORLD");

    let many = capture.span("greet_many");
    assert_eq!(many.attr_i64("times"), Some(2));
    let greets = capture.spans_named("greet");
    assert_eq!(greets.len(), 3, "Loud's override is not traced");
    assert_eq!(
        greets[0].parent_span_id.as_deref(),
        Some(many.span_id.as_str())
    );
    assert_eq!(greets[0].attr_str("xray.return"), Some("hello world"));
    assert_eq!(
        capture.span("with").attr_str("extra"),
        Some("1"),
        "generic: through `Debug`"
    );
}
