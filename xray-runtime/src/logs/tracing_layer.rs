//! `tracing` integration (feature `tracing`): a layer that sends events as
//! OTLP log records with their span context, and a formatter wrapper that
//! puts the trace and span ids on the lines `tracing_subscriber::fmt` writes.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::time::SystemTime;

use opentelemetry::KeyValue;
use tracing_core::field::{Field, Visit};
use tracing_core::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::queue;
use super::record::{LogRecord, Severity, SpanIds};
use crate::span::stack::is_suppressed;
use crate::value::truncate;

/// A `tracing_subscriber` layer that exports every event as an OpenTelemetry
/// log record (`OTEL_LOGS_EXPORTER`), carrying the trace and span ids of
/// the traced span it was written in, so that X-Ray and CloudWatch link the
/// two.
///
/// The event's message is the record's body, its other fields the record's
/// attributes, its target the record's instrumentation scope. Events the
/// subscriber's filters drop never reach the layer; with logs export off
/// (the default without an OTLP endpoint), the layer does nothing.
///
/// To put the ids on the lines `tracing_subscriber::fmt` writes as well,
/// wrap its formatter in [`TraceIds`].
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
/// use xray_runtime::logs::{TraceIds, XrayLogLayer};
///
/// let subscriber = tracing_subscriber::registry()
///     .with(XrayLogLayer::new())
///     .with(tracing_subscriber::fmt::layer().map_event_format(TraceIds::new));
/// let _default = tracing::subscriber::set_default(subscriber);
/// tracing::info!(order.id = 7, "order received");
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct XrayLogLayer {
    _private: (),
}

impl XrayLogLayer {
    /// The layer.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S: Subscriber> Layer<S> for XrayLogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if !queue::accepting() || is_suppressed() {
            return;
        }
        let metadata = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        if let Some(file) = metadata.file() {
            fields
                .attributes
                .push(KeyValue::new("code.file.path", file.to_string()));
        }
        if let Some(line) = metadata.line() {
            fields
                .attributes
                .push(KeyValue::new("code.line.number", i64::from(line)));
        }
        queue::emit(LogRecord {
            time: SystemTime::now(),
            severity: severity(metadata.level()),
            target: metadata.target().to_string().into(),
            body: fields.message,
            attributes: fields.attributes,
            span: SpanIds::current(),
        });
    }
}

fn severity(level: &Level) -> Severity {
    match *level {
        Level::TRACE => Severity::Trace,
        Level::DEBUG => Severity::Debug,
        Level::INFO => Severity::Info,
        Level::WARN => Severity::Warn,
        _ => Severity::Error,
    }
}

/// An event's message and fields.
#[derive(Default)]
struct Fields {
    message: String,
    attributes: Vec<KeyValue>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            self.attributes
                .push(KeyValue::new(field.name(), truncate(format!("{value:?}"))));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.attributes
                .push(KeyValue::new(field.name(), truncate(value.to_string())));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.attributes.push(KeyValue::new(field.name(), value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        let value: opentelemetry::Value =
            i64::try_from(value).map_or_else(|_| value.to_string().into(), Into::into);
        self.attributes.push(KeyValue::new(field.name(), value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.attributes.push(KeyValue::new(field.name(), value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.attributes.push(KeyValue::new(field.name(), value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.record_str(field, &value.to_string());
    }
}

/// Wraps a `tracing_subscriber::fmt` event formatter so that every line
/// written inside a traced span carries the span's trace id (X-Ray form)
/// and span id; lines outside spans are written as the formatter writes them.
///
/// * JSON (`.json()`): `"trace_id"` and `"span_id"` open the object, as
///   top-level fields CloudWatch Logs Insights discovers:
///   `{"trace_id":"1-5759e988-bd862e3fe1be46a994272793","span_id":"53995c3f42cd8ad8","timestamp":...}`.
/// * Text (full, compact, pretty): ` trace_id=1-... span_id=...` ends the line.
///
/// Either way, `filter @message like "1-5759e988-bd862e3fe1be46a994272793"`
/// in CloudWatch Logs Insights finds the lines of a trace. Lines with ids
/// are written without ANSI colors.
///
/// ```
/// use xray_runtime::logs::TraceIds;
///
/// let subscriber = tracing_subscriber::fmt()
///     .json()
///     .map_event_format(TraceIds::new)
///     .finish();
/// # let _ = subscriber;
/// ```
#[derive(Clone, Debug)]
pub struct TraceIds<F> {
    inner: F,
}

impl<F> TraceIds<F> {
    /// Wraps `inner`.
    pub fn new(inner: F) -> Self {
        Self { inner }
    }
}

thread_local! {
    /// The line being formatted, reused from line to line.
    static LINE: RefCell<String> = const { RefCell::new(String::new()) };
}

impl<S, N, F> FormatEvent<S, N> for TraceIds<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let Some(ids) = SpanIds::current() else {
            return self.inner.format_event(ctx, writer, event);
        };
        let formatted = LINE.try_with(|line| {
            let Ok(mut line) = line.try_borrow_mut() else {
                return None;
            };
            line.clear();
            let result = self.inner.format_event(ctx, Writer::new(&mut *line), event);
            Some(result.map(|()| with_ids(&line, &ids)))
        });
        match formatted.ok().flatten() {
            Some(Ok(line)) => writer.write_str(&line),
            Some(Err(err)) => Err(err),
            // Formatting inside formatting (a field's `Debug` logging):
            // written without ids.
            None => self.inner.format_event(ctx, writer, event),
        }
    }
}

/// `line` with the ids: first in a JSON object, last on a text line.
fn with_ids(line: &str, ids: &SpanIds) -> String {
    let (trace_id, span_id) = (ids.xray_trace_id(), ids.span_id_hex());
    let mut out = String::with_capacity(line.len() + 80);
    if let Some(rest) = line.strip_prefix('{') {
        out.push_str("{\"trace_id\":\"");
        out.push_str(&trace_id);
        out.push_str("\",\"span_id\":\"");
        out.push_str(&span_id);
        out.push('"');
        if !rest.trim_start().starts_with('}') {
            out.push(',');
        }
        out.push_str(rest);
        return out;
    }
    let (body, end) = match line.strip_suffix('\n') {
        Some(body) => (body, "\n"),
        None => (line, ""),
    };
    out.push_str(body);
    out.push_str(" trace_id=");
    out.push_str(&trace_id);
    out.push_str(" span_id=");
    out.push_str(&span_id);
    out.push_str(end);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDS: SpanIds = SpanIds {
        trace_id: 0x5759e988_bd862e3fe1be46a994272793,
        span_id: 0x53995c3f42cd8ad8,
        sampled: true,
    };

    #[test]
    fn ids_open_a_json_object_and_end_a_text_line() {
        assert_eq!(
            with_ids("{\"level\":\"INFO\"}\n", &IDS),
            "{\"trace_id\":\"1-5759e988-bd862e3fe1be46a994272793\",\"span_id\":\"53995c3f42cd8ad8\",\"level\":\"INFO\"}\n"
        );
        assert_eq!(
            with_ids("{}\n", &IDS),
            "{\"trace_id\":\"1-5759e988-bd862e3fe1be46a994272793\",\"span_id\":\"53995c3f42cd8ad8\"}\n"
        );
        assert_eq!(
            with_ids("2026-05-01T10:00:00Z  INFO shop: paid amount=3\n", &IDS),
            "2026-05-01T10:00:00Z  INFO shop: paid amount=3 trace_id=1-5759e988-bd862e3fe1be46a994272793 span_id=53995c3f42cd8ad8\n"
        );
        assert_eq!(
            with_ids("no newline", &IDS),
            "no newline trace_id=1-5759e988-bd862e3fe1be46a994272793 span_id=53995c3f42cd8ad8"
        );
    }
}
