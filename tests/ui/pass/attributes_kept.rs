#![deny(missing_docs, unused_must_use)]
//! Attributes on either side of #[traced], and doc comments, are kept on
//! the function, in order.

use xray_runtime::traced;

/// Documented.
#[must_use = "the total is the point"]
#[traced(ret)]
#[inline]
pub fn total(values: &[u32]) -> u32 {
    values.iter().sum()
}

/// Inlined always, and only compiled where the `cfg` holds.
#[cfg(not(any()))]
#[inline(always)]
#[traced]
pub fn compiled_in() -> bool {
    true
}

/// Compiled out by its `cfg`: its body would not compile.
#[traced]
#[cfg(any())]
pub fn compiled_out() -> u32 {
    does_not_exist()
}

#[doc = "Attributes written as `doc`."]
#[traced]
#[cold]
#[track_caller]
pub fn caller() -> u32 {
    std::panic::Location::caller().line()
}

/// `#[track_caller]` keeps reporting the caller where the value is a
/// `Result` too (its error is then not recorded).
#[traced]
#[track_caller]
pub fn caller_result() -> Result<u32, String> {
    Ok(std::panic::Location::caller().line())
}

/// Async, with `must_use` kept on the function.
#[must_use]
#[traced]
pub async fn later() -> u8 {
    1
}

fn main() {
    let capture = xray_runtime::testing::capture();
    let sum = total(&[1, 2]);
    assert_eq!(sum, 3);
    assert!(compiled_in());
    // `#[track_caller]` still reports the caller.
    let (line, here) = (caller(), line!());
    assert_eq!(line, here);
    let (line, here) = (caller_result(), line!());
    assert_eq!(line, Ok(here));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(later()), 1);
    assert_eq!(capture.span("total").attr_i64("xray.return"), Some(3));
    capture.span("compiled_in");
    capture.span("caller");
    capture.span("later");
}
