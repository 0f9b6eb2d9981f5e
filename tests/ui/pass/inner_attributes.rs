#![deny(unused_mut, unused_variables)]
// Inner attributes at the top of a body are lifted onto the function, where
// they keep applying to the whole body, in every shape.
use std::future::Future;

use xray_runtime::traced;

#[traced]
fn plain() {
    #![allow(unused_variables)]
    let unused = 1;
}

#[traced(ret)]
fn recorded() -> u32 {
    #![allow(unused_mut)]
    let mut x = 3;
    x
}

#[traced(ret)]
async fn in_async() -> u32 {
    #![allow(unused_mut, unused_variables)]
    let mut x = 4;
    let unused = 0;
    x
}

#[traced]
fn returns_future() -> impl Future<Output = u32> {
    #![allow(unused_variables)]
    let unused = 0;
    async move {
        #![allow(unused_mut)]
        let mut x = 5;
        x
    }
}

#[traced]
fn documented() -> u32 {
    //! An inner doc comment documents the function.
    6
}

fn main() {
    let capture = xray_runtime::testing::capture();
    plain();
    assert_eq!(recorded(), 3);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(in_async()), 4);
    assert_eq!(runtime.block_on(returns_future()), 5);
    assert_eq!(documented(), 6);
    capture.span("plain");
    assert_eq!(capture.span("recorded").attr_i64("xray.return"), Some(3));
    assert_eq!(capture.span("in_async").attr_i64("xray.return"), Some(4));
    capture.span("returns_future");
    capture.span("documented");
}
