// `#[must_use]` survives the expansion, sync and async: the lint still fires.
#![deny(unused_must_use)]

use xray_runtime::traced;

#[must_use = "the total is the point"]
#[traced(ret)]
fn total(values: &[u32]) -> u32 {
    values.iter().sum()
}

#[traced]
fn returns_future() -> impl std::future::Future<Output = u8> {
    async move { 1 }
}

fn main() {
    total(&[1, 2]);
    returns_future();
}
