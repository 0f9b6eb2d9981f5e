//! A panic unwinds out of `main`: exit code 101, and every span, including
//! the ones the panic unwound through, is flushed with the panic recorded.

use xray_runtime::{traced, xray_main, xray_root};

#[xray_main(service = "exit-panic", exporter = json)]
fn main() {
    panic_warm_up();
    panic_process_batch(3);
    // Not reached.
    println!("unexpected: the batch did not panic");
}

/// A first trace that completes normally.
#[xray_root]
fn panic_warm_up() {
    panic_prepare_cache();
}

#[traced]
fn panic_prepare_cache() {
    std::hint::black_box(());
}

/// The second trace, which panics two levels down.
#[xray_root(args(item))]
fn panic_process_batch(item: u32) {
    panic_step_one();
    panic_explode(item);
}

#[traced]
fn panic_step_one() {
    std::hint::black_box(());
}

#[traced(args(item))]
fn panic_explode(item: u32) {
    if std::hint::black_box(item) == 3 {
        panic!("boom: item {item} is corrupt");
    }
}
