//! A service whose roots X-Ray's sampling rules decide, set up from the
//! environment only (`OTEL_TRACES_SAMPLER=xray`, `OTEL_TRACES_SAMPLER_ARG`,
//! `OTEL_TRACES_EXPORTER=json`, ...), for the sampling tests.
//!
//! `sampling_app SECONDS PATH...`: for SECONDS, every 10 ms, one root per
//! PATH (`GET PATH`, with `http.request.method` and `url.path`), which the
//! rules decide. Sampled roots are printed as JSON lines on stdout.

use std::time::{Duration, Instant};

use xray_runtime::{Config, Context, ExporterKind, KeyValue, Span, SpanKind};

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: f64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .expect("usage: sampling_app SECONDS PATH...");
    let paths: Vec<String> = args.collect();
    let _guard = xray_runtime::init(
        Config::new()
            .service_name("sampling-app")
            .exporter(ExporterKind::Json),
    );
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    while Instant::now() < until {
        for path in &paths {
            let span = Span::root_with_attributes(
                format!("GET {path}"),
                SpanKind::Server,
                &Context::new(),
                vec![
                    KeyValue::new("http.request.method", "GET"),
                    KeyValue::new("url.path", path.clone()),
                ],
            );
            drop(span);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
