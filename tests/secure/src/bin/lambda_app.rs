//! An AWS Lambda-like process: one warm process, one invocation per
//! argument (its `_X_AMZN_TRACE_ID`, set as the Lambda runtime sets it
//! before calling the handler). Credentials come from the environment, as
//! on Lambda. After each invocation it prints `END <k> <unix nanos>`: the
//! invocation's spans must have reached the endpoint by then.

use std::time::{SystemTime, UNIX_EPOCH};

use xray_runtime::propagation::LAMBDA_TRACE_ENV;
use xray_runtime::{traced, xray_main, xray_root};

#[xray_main(service = "lambda-fn", exporter = otlp)]
fn main() {
    for (k, header) in std::env::args().skip(1).enumerate() {
        // SAFETY: what the Lambda runtime does between invocations; no
        // other thread of this process reads or writes the environment.
        unsafe { std::env::set_var(LAMBDA_TRACE_ENV, &header) };
        invocation(k as u64);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        println!("END {k} {now}");
    }
}

#[xray_root(lambda, name = "invocation", attrs(invocation = k))]
fn invocation(k: u64) {
    step(k);
    step(k + 100);
}

#[traced(args(k))]
fn step(k: u64) -> u64 {
    std::hint::black_box(k)
}
