//! Configuration 2: xray's `#[traced]` and `#[xray_root]`.

use xray_runtime::{Config, Guard, SamplerKind, traced, xray_root};

use crate::{DropExporter, body};

/// One `#[traced]` span around the body. With no current span it starts a
/// new trace; under a root it is a child.
#[traced(name = "bench_span")]
#[inline(never)]
pub fn span(x: u64) -> u64 {
    body(x)
}

/// A `#[traced]` parent that calls 10 `#[traced]` children: 11 spans.
#[traced(name = "bench_parent")]
#[inline(never)]
pub fn nested(x: u64) -> u64 {
    let mut acc = body(x);
    for i in 0..10 {
        acc ^= span(x.wrapping_add(i));
    }
    acc
}

/// A new trace per call: `#[xray_root]` around the body.
#[xray_root(name = "bench_root")]
#[inline(never)]
pub fn root(x: u64) -> u64 {
    body(x)
}

/// Runs `f` inside one long-lived `#[xray_root]` span, so that the spans it
/// makes are children of one trace.
#[xray_root(name = "bench_long_root")]
pub fn under_root<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// Installs xray with the [`DropExporter`] behind its batch processor.
pub fn init(sampler: SamplerKind) -> Guard {
    xray_runtime::init(
        Config::new()
            .service_name("xray-bench")
            .with_exporter(DropExporter)
            .sampler(sampler),
    )
}

/// Installs xray with `OTEL_SDK_DISABLED=true`: `init` installs nothing.
///
/// Sets the variable for the rest of the process; call it before any other
/// thread of the process reads the environment.
pub fn init_sdk_disabled() -> Guard {
    // SAFETY: the bench and probe binaries call this from their main thread
    // before starting any thread of their own; no other code of the process
    // reads or writes the environment concurrently at that point.
    unsafe { std::env::set_var("OTEL_SDK_DISABLED", "true") };
    let guard = init(SamplerKind::AlwaysOn);
    assert!(
        !guard.is_active(),
        "OTEL_SDK_DISABLED=true should leave xray inactive"
    );
    guard
}
