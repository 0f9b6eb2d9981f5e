#![deny(missing_docs)]
//! Signature qualifiers and attributes survive the expansion.

use xray_runtime::traced;

/// Reads through a raw pointer.
///
/// # Safety
/// `ptr` must be valid for reads.
#[traced(ret)]
#[inline]
pub unsafe fn read(ptr: *const u32) -> u32 {
    // SAFETY: the caller promised `ptr` is valid.
    unsafe { *ptr }
}

/// Callable from C.
#[traced]
#[unsafe(no_mangle)]
pub extern "C" fn xray_ui_add(a: u32, b: u32) -> u32 {
    a + b
}

/// Both at once, and async.
#[traced(ret)]
pub(crate) async unsafe fn read_later(ptr: *const u32) -> u32 {
    // SAFETY: the caller promised `ptr` is valid.
    unsafe { *ptr }
}

/// The result matters.
#[must_use = "the total is the point"]
#[traced]
#[inline(never)]
#[allow(clippy::needless_return)]
pub fn total(values: &[u32]) -> u32 {
    #![allow(unused_variables)]
    let unused = 1;
    return values.iter().sum();
}

/// Inner attributes on a body whose outcome is recorded.
#[traced(ret)]
pub fn inner_attrs() -> u32 {
    #![allow(unused_mut)]
    let mut x = 3;
    x
}

#[cold]
#[traced(name = "cold path")]
#[doc = "Attributes on either side of the macro are kept."]
pub fn cold() {}

fn main() {
    let capture = xray_runtime::testing::capture();
    let value = 7u32;
    // SAFETY: `value` lives for the call.
    assert_eq!(unsafe { read(&value) }, 7);
    assert_eq!(xray_ui_add(1, 2), 3);
    let as_c: extern "C" fn(u32, u32) -> u32 = xray_ui_add;
    assert_eq!(as_c(2, 2), 4);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    // SAFETY: `value` outlives the future.
    assert_eq!(runtime.block_on(unsafe { read_later(&value) }), 7);
    assert_eq!(total(&[1, 2]), 3);
    assert_eq!(inner_attrs(), 3);
    cold();

    assert_eq!(capture.span("read").attr_i64("xray.return"), Some(7));
    assert_eq!(capture.spans_named("xray_ui_add").len(), 2);
    assert_eq!(capture.span("read_later").attr_i64("xray.return"), Some(7));
    capture.span("total");
    assert_eq!(capture.span("inner_attrs").attr_i64("xray.return"), Some(3));
    capture.span("cold path");
}
