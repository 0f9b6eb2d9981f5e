//! `OTEL_METRICS_EXPORTER=console`: one line per series on stdout at each
//! export, with an example trace when one was kept.

use std::fmt::Write as _;
use std::time::Instant;

use opentelemetry::trace::TraceId;
use opentelemetry::{KeyValue, Value};

use super::pipeline::Collection;
use crate::export::lane::Outcome;
use crate::propagation::xray_trace_id;
use crate::signals::deliver::{Exporter, print};

/// Prints metrics on stdout.
pub(crate) struct ConsoleMetrics;

impl Exporter<Collection> for ConsoleMetrics {
    fn name(&self) -> &str {
        "console"
    }

    fn export(&mut self, collection: &Collection, _deadline: Instant) -> Outcome {
        print(&lines(collection))
    }

    fn shutdown(self: Box<Self>) {}
}

/// `metric http.server.request.duration http.route="/orders/{id}" ...
/// count=3 sum=12.40 ms min=2.10 ms max=6.02 ms example=1-.../...`
pub(crate) fn lines(collection: &Collection) -> String {
    let millis = |ticks: u64| collection.converter.seconds(ticks) * 1e3;
    let mut out = String::new();
    for data in &collection.metrics {
        for point in &data.points {
            let recorded = &point.recorded;
            let _ = write!(out, "metric {}", data.instrument.name);
            for KeyValue { key, value, .. } in &point.series.attributes {
                match value {
                    Value::String(text) => {
                        let _ = write!(out, " {key}={:?}", text.as_str());
                    }
                    other => {
                        let _ = write!(out, " {key}={other}");
                    }
                }
            }
            let _ = write!(
                out,
                "  count={} sum={:.2} ms",
                recorded.count(),
                millis(recorded.sum)
            );
            if let (Some(min), Some(max)) = (recorded.min, recorded.max) {
                let _ = write!(out, " min={:.2} ms max={:.2} ms", millis(min), millis(max));
            }
            if let Some(example) = recorded.exemplars.iter().max_by_key(|e| e.ticks) {
                let _ = write!(
                    out,
                    " example={}/{:016x}",
                    xray_trace_id(TraceId::from(example.trace_id)),
                    example.span_id
                );
            }
            out.push('\n');
        }
    }
    out
}
