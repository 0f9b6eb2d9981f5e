//! JSON lines exporter: one JSON object per finished span, one line each.
//!
//! Each line is a self-contained JSON object, easy to feed to `jq`, a log
//! pipeline or a test:
//!
//! ```text
//! {"trace_id":"1-6740a1b2-5f1c2d3e4f5a6b7c8d9e0f1a","otel_trace_id":"6740a1b25f1c2d3e4f5a6b7c8d9e0f1a","span_id":"00f067aa0ba902b7","parent_span_id":null,"parent_is_remote":false,"name":"handle_order","kind":"server",...}
//! ```

use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};
use opentelemetry::{Array, KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

/// A [`SpanExporter`] that writes each finished span as one line of JSON.
///
/// Spans are written as soon as they are exported, one object per line, with
/// the fields `trace_id` (X-Ray form `1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx`),
/// `otel_trace_id`, `span_id`, `parent_span_id` (`null` for a root),
/// `parent_is_remote`, `name`, `kind`, `start_time_unix_nano`,
/// `end_time_unix_nano`, `duration_ms`, `status` (`{"code","message"}`),
/// `attributes`, `events`, `links` (only for a span with links: each
/// `{"trace_id","span_id","attributes"}`), `service` and `scope`, in that
/// order.
///
/// Attribute values keep their JSON types; non-finite floats are written as
/// the strings `"NaN"`, `"inf"` and `"-inf"`. The output is valid JSON for
/// any span. Write errors are ignored.
///
/// # Example
///
/// ```
/// use opentelemetry::trace::{Tracer, TracerProvider};
/// use opentelemetry_sdk::trace::SdkTracerProvider;
/// use xray_runtime::export::JsonExporter;
///
/// let provider = SdkTracerProvider::builder()
///     .with_simple_exporter(JsonExporter::stdout())
///     .build();
/// provider.tracer("demo").in_span("handle_order", |_cx| {});
/// provider.shutdown().unwrap();
/// ```
pub struct JsonExporter {
    service: Option<String>,
    writer: Mutex<Box<dyn Write + Send>>,
    is_shutdown: AtomicBool,
}

impl JsonExporter {
    /// Creates an exporter writing to standard output.
    ///
    /// # Example
    ///
    /// ```
    /// use opentelemetry_sdk::trace::SdkTracerProvider;
    /// use xray_runtime::export::JsonExporter;
    ///
    /// let provider = SdkTracerProvider::builder()
    ///     .with_simple_exporter(JsonExporter::stdout())
    ///     .build();
    /// # provider.shutdown().unwrap();
    /// ```
    #[must_use]
    pub fn stdout() -> Self {
        Self::new(io::stdout())
    }

    /// Creates an exporter writing to `writer`, e.g. a file.
    ///
    /// # Example
    ///
    /// ```
    /// use opentelemetry_sdk::trace::SdkTracerProvider;
    /// use xray_runtime::export::JsonExporter;
    ///
    /// let provider = SdkTracerProvider::builder()
    ///     .with_simple_exporter(JsonExporter::new(std::io::stderr()))
    ///     .build();
    /// # provider.shutdown().unwrap();
    /// ```
    #[must_use]
    pub fn new(writer: impl Write + Send + 'static) -> Self {
        Self {
            service: None,
            writer: Mutex::new(Box::new(writer)),
            is_shutdown: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Box<dyn Write + Send>> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn flush(&self) {
        let _ = self.lock().flush();
    }
}

impl Default for JsonExporter {
    /// Same as [`JsonExporter::stdout`].
    fn default() -> Self {
        Self::stdout()
    }
}

impl fmt::Debug for JsonExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonExporter")
            .field("service", &self.service)
            .field("is_shutdown", &self.is_shutdown.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl SpanExporter for JsonExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if self.is_shutdown.load(Ordering::Acquire) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        if batch.is_empty() {
            return Ok(());
        }
        let mut text = String::with_capacity(batch.len() * 512);
        for span in &batch {
            push_span(&mut text, span, self.service.as_deref());
            text.push('\n');
        }
        let mut writer = self.lock();
        // Output is best effort: a closed stdout must not break the application.
        let _ = writer.write_all(text.as_bytes());
        let _ = writer.flush();
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        if self.is_shutdown.swap(true, Ordering::AcqRel) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        self.flush();
        Ok(())
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.flush();
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.service = resource
            .get(&"service.name".into())
            .map(|name| name.as_str().into_owned());
    }
}

/// Appends one span as a JSON object (without the trailing newline).
fn push_span(out: &mut String, span: &SpanData, service: Option<&str>) {
    let trace_id = span.span_context.trace_id();
    out.push_str("{\"trace_id\":\"");
    push_xray_trace_id(out, trace_id);
    let _ = write!(
        out,
        "\",\"otel_trace_id\":\"{trace_id}\",\"span_id\":\"{}\",\"parent_span_id\":",
        span.span_context.span_id()
    );
    if span.parent_span_id == SpanId::INVALID {
        out.push_str("null");
    } else {
        let _ = write!(out, "\"{}\"", span.parent_span_id);
    }
    let _ = write!(
        out,
        ",\"parent_is_remote\":{},\"name\":",
        span.parent_span_is_remote
    );
    push_str(out, &span.name);
    out.push_str(",\"kind\":\"");
    out.push_str(match span.span_kind {
        SpanKind::Internal => "internal",
        SpanKind::Server => "server",
        SpanKind::Client => "client",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
    });
    let duration = span
        .end_time
        .duration_since(span.start_time)
        .unwrap_or_default();
    let _ = write!(
        out,
        "\",\"start_time_unix_nano\":{},\"end_time_unix_nano\":{},\"duration_ms\":",
        unix_nanos(span.start_time),
        unix_nanos(span.end_time)
    );
    push_f64(out, duration.as_nanos() as f64 / 1e6);

    out.push_str(",\"status\":{\"code\":");
    match &span.status {
        Status::Unset => out.push_str("\"unset\",\"message\":null}"),
        Status::Ok => out.push_str("\"ok\",\"message\":null}"),
        Status::Error { description } => {
            out.push_str("\"error\",\"message\":");
            push_str(out, description);
            out.push('}');
        }
    }

    out.push_str(",\"attributes\":");
    push_attributes(out, &span.attributes);

    out.push_str(",\"events\":[");
    for (i, event) in span.events.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"name\":");
        push_str(out, &event.name);
        let _ = write!(
            out,
            ",\"time_unix_nano\":{},\"attributes\":",
            unix_nanos(event.timestamp)
        );
        push_attributes(out, &event.attributes);
        out.push('}');
    }
    out.push(']');

    if !span.links.is_empty() {
        out.push_str(",\"links\":[");
        for (i, link) in span.links.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let context = &link.span_context;
            out.push_str("{\"trace_id\":\"");
            push_xray_trace_id(out, context.trace_id());
            let _ = write!(
                out,
                "\",\"span_id\":\"{}\",\"attributes\":",
                context.span_id()
            );
            push_attributes(out, &link.attributes);
            out.push('}');
        }
        out.push(']');
    }

    out.push_str(",\"service\":");
    match service {
        Some(service) => push_str(out, service),
        None => out.push_str("null"),
    }
    out.push_str(",\"scope\":");
    push_str(out, span.instrumentation_scope.name());
    out.push('}');
}

/// Nanoseconds since the Unix epoch; 0 before it, saturating far after it.
fn unix_nanos(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
        })
}

fn push_attributes(out: &mut String, attributes: &[KeyValue]) {
    out.push('{');
    for (i, kv) in attributes.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_str(out, kv.key.as_str());
        out.push(':');
        push_value(out, &kv.value);
    }
    out.push('}');
}

fn push_value(out: &mut String, value: &Value) {
    match value {
        Value::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Value::I64(i) => {
            let _ = write!(out, "{i}");
        }
        Value::F64(f) => push_f64(out, *f),
        Value::String(s) => push_str(out, s.as_str()),
        Value::Array(array) => push_array(out, array),
        other => push_str(out, &other.as_str()),
    }
}

fn push_array(out: &mut String, array: &Array) {
    fn items<T>(out: &mut String, values: &[T], mut item: impl FnMut(&mut String, &T)) {
        out.push('[');
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            item(out, value);
        }
        out.push(']');
    }
    match array {
        Array::Bool(values) => items(out, values, |out, b| {
            let _ = write!(out, "{b}");
        }),
        Array::I64(values) => items(out, values, |out, i| {
            let _ = write!(out, "{i}");
        }),
        Array::F64(values) => items(out, values, |out, f| push_f64(out, *f)),
        Array::String(values) => items(out, values, |out, s| push_str(out, s.as_str())),
        other => push_str(out, &other.to_string()),
    }
}

/// A finite float as a JSON number (`1.0`, `2.5e-7`); NaN and infinities,
/// which JSON cannot express as numbers, as the strings `"NaN"`, `"inf"`
/// and `"-inf"`.
fn push_f64(out: &mut String, value: f64) {
    if value.is_finite() {
        // `Debug` keeps a fractional part or exponent, so that the value
        // reads back as a float; its syntax is a valid JSON number.
        let _ = write!(out, "{value:?}");
    } else if value.is_nan() {
        out.push_str("\"NaN\"");
    } else if value > 0.0 {
        out.push_str("\"inf\"");
    } else {
        out.push_str("\"-inf\"");
    }
}

/// A JSON string literal: quotes, backslashes and control characters escaped,
/// other characters (including non-ASCII) as they are.
fn push_str(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `1-{8 hex}-{24 hex}`: the X-Ray form of a trace id.
fn push_xray_trace_id(out: &mut String, trace_id: TraceId) {
    let _ = write!(out, "{}", crate::propagation::XrayTraceId(trace_id));
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::borrow::Cow;
    use std::pin::pin;
    use std::sync::Arc;
    use std::task::{Context, Poll, Waker};

    use opentelemetry::trace::{Event, SpanContext, TraceFlags, TraceState};
    use opentelemetry::{InstrumentationScope, StringValue};
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};

    /// In-memory output shared between a test and its exporter; counts writes.
    #[derive(Clone, Default)]
    struct SharedBuf(Arc<Mutex<(Vec<u8>, usize)>>);

    impl SharedBuf {
        fn take(&self) -> (String, usize) {
            let mut inner = self.0.lock().unwrap_or_else(|e| e.into_inner());
            let (bytes, writes) = std::mem::take(&mut *inner);
            (
                String::from_utf8(bytes).expect("JSON output is UTF-8"),
                writes,
            )
        }
    }

    impl Write for SharedBuf {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut inner = self.0.lock().unwrap_or_else(|e| e.into_inner());
            inner.0.extend_from_slice(buf);
            inner.1 += 1;
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Drives a future that completes without waiting, as exports here do.
    fn block_on<F: Future>(future: F) -> F::Output {
        let mut future = pin!(future);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            std::thread::yield_now();
        }
    }

    const TRACE: u128 = 0x6740a1b2_5f1c2d3e4f5a6b7c8d9e0f1a;
    const START_NANOS: u64 = 1_700_000_000_000_000_000;

    fn at(nanos: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_nanos(START_NANOS + nanos)
    }

    fn span(id: u64, parent: u64, name: impl Into<Cow<'static, str>>) -> SpanData {
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(TRACE),
                SpanId::from(id),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::from(parent),
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: name.into(),
            start_time: at(0),
            end_time: at(1_500_000),
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::builder("x").build(),
        }
    }

    fn export(service: Option<&'static str>, batch: Vec<SpanData>) -> (String, usize) {
        let out = SharedBuf::default();
        let mut exporter = JsonExporter::new(out.clone());
        if let Some(service) = service {
            exporter.set_resource(&Resource::builder_empty().with_service_name(service).build());
        }
        block_on(exporter.export(batch)).expect("export succeeds");
        exporter.shutdown().expect("first shutdown succeeds");
        out.take()
    }

    /// Minimal JSON syntax check (RFC 8259), returning where it failed.
    fn check_json(text: &str) -> Result<(), String> {
        struct Parser<'a> {
            bytes: &'a [u8],
            at: usize,
        }

        impl Parser<'_> {
            fn peek(&self) -> Option<u8> {
                self.bytes.get(self.at).copied()
            }

            fn fail<T>(&self, what: &str) -> Result<T, String> {
                Err(format!("{what} at byte {}", self.at))
            }

            fn eat(&mut self, byte: u8) -> Result<(), String> {
                if self.peek() == Some(byte) {
                    self.at += 1;
                    Ok(())
                } else {
                    self.fail(&format!("expected {:?}", byte as char))
                }
            }

            fn ws(&mut self) {
                while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
                    self.at += 1;
                }
            }

            fn digits(&mut self) -> Result<(), String> {
                let start = self.at;
                while self.peek().is_some_and(|b| b.is_ascii_digit()) {
                    self.at += 1;
                }
                if self.at == start {
                    return self.fail("expected digit");
                }
                Ok(())
            }

            fn value(&mut self, depth: usize) -> Result<(), String> {
                if depth > 64 {
                    return self.fail("too deep");
                }
                self.ws();
                match self.peek() {
                    Some(b'{') => {
                        self.at += 1;
                        self.ws();
                        if self.peek() == Some(b'}') {
                            self.at += 1;
                            return Ok(());
                        }
                        loop {
                            self.ws();
                            self.string()?;
                            self.ws();
                            self.eat(b':')?;
                            self.value(depth + 1)?;
                            self.ws();
                            match self.peek() {
                                Some(b',') => self.at += 1,
                                Some(b'}') => {
                                    self.at += 1;
                                    return Ok(());
                                }
                                _ => return self.fail("expected , or }"),
                            }
                        }
                    }
                    Some(b'[') => {
                        self.at += 1;
                        self.ws();
                        if self.peek() == Some(b']') {
                            self.at += 1;
                            return Ok(());
                        }
                        loop {
                            self.value(depth + 1)?;
                            self.ws();
                            match self.peek() {
                                Some(b',') => self.at += 1,
                                Some(b']') => {
                                    self.at += 1;
                                    return Ok(());
                                }
                                _ => return self.fail("expected , or ]"),
                            }
                        }
                    }
                    Some(b'"') => self.string(),
                    Some(b'-' | b'0'..=b'9') => self.number(),
                    _ => {
                        for word in ["true", "false", "null"] {
                            if self.bytes[self.at..].starts_with(word.as_bytes()) {
                                self.at += word.len();
                                return Ok(());
                            }
                        }
                        self.fail("expected a value")
                    }
                }
            }

            fn string(&mut self) -> Result<(), String> {
                self.eat(b'"')?;
                loop {
                    match self.peek() {
                        None => return self.fail("unterminated string"),
                        Some(b'"') => {
                            self.at += 1;
                            return Ok(());
                        }
                        Some(0..=0x1f) => return self.fail("raw control character"),
                        Some(b'\\') => {
                            self.at += 1;
                            match self.peek() {
                                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                                    self.at += 1
                                }
                                Some(b'u') => {
                                    self.at += 1;
                                    for _ in 0..4 {
                                        if !self.peek().is_some_and(|b| b.is_ascii_hexdigit()) {
                                            return self.fail("bad \\u escape");
                                        }
                                        self.at += 1;
                                    }
                                }
                                _ => return self.fail("bad escape"),
                            }
                        }
                        Some(_) => self.at += 1,
                    }
                }
            }

            fn number(&mut self) -> Result<(), String> {
                if self.peek() == Some(b'-') {
                    self.at += 1;
                }
                if self.peek() == Some(b'0') {
                    self.at += 1;
                } else {
                    self.digits()?;
                }
                if self.peek() == Some(b'.') {
                    self.at += 1;
                    self.digits()?;
                }
                if matches!(self.peek(), Some(b'e' | b'E')) {
                    self.at += 1;
                    if matches!(self.peek(), Some(b'+' | b'-')) {
                        self.at += 1;
                    }
                    self.digits()?;
                }
                Ok(())
            }
        }

        let mut parser = Parser {
            bytes: text.as_bytes(),
            at: 0,
        };
        parser.value(0)?;
        parser.ws();
        if parser.at != text.len() {
            return parser.fail("trailing characters");
        }
        Ok(())
    }

    #[test]
    fn checker_rejects_invalid_json() {
        for bad in [
            "",
            "{",
            "{\"a\"}",
            "[1,]",
            "\"a\nb\"",
            "\"\\x\"",
            "01",
            "1.",
            "-",
            "nul",
            "{} {}",
            "NaN",
            "\"\\u12\"",
        ] {
            assert!(check_json(bad).is_err(), "{bad:?} accepted");
        }
        for good in [
            "{}",
            "[]",
            "-0.5e-7",
            "{\"a\":[true,null,\"\\u00e9\"]}",
            "\"é\"",
        ] {
            assert_eq!(check_json(good), Ok(()), "{good:?} rejected");
        }
    }

    #[test]
    fn exact_line_for_a_hand_built_span() {
        let mut root = span(0x00f067aa0ba902b7, 0, "handle_order");
        root.span_kind = SpanKind::Server;
        let mut child = span(0x53995c3f42cd8ad8, 0x00f067aa0ba902b7, "charge");
        child.span_kind = SpanKind::Client;
        child.status = Status::error("card declined");
        child.attributes = vec![
            KeyValue::new("cart.id", 42),
            KeyValue::new("ok", false),
            KeyValue::new("ratio", 1.0),
            KeyValue::new("user", "ann"),
            KeyValue::new(
                "tags",
                Value::Array(Array::String(vec![StringValue::from("a"), "b".into()])),
            ),
            KeyValue::new("ids", Value::Array(vec![1i64, -2].into())),
        ];
        child.events.events.push(Event::new(
            "exception",
            at(250),
            vec![KeyValue::new("exception.type", "PaymentError")],
            0,
        ));
        let (text, writes) = export(Some("checkout"), vec![child, root]);
        let expected = "\
{\"trace_id\":\"1-6740a1b2-5f1c2d3e4f5a6b7c8d9e0f1a\",\"otel_trace_id\":\"6740a1b25f1c2d3e4f5a6b7c8d9e0f1a\",\
\"span_id\":\"53995c3f42cd8ad8\",\"parent_span_id\":\"00f067aa0ba902b7\",\"parent_is_remote\":false,\
\"name\":\"charge\",\"kind\":\"client\",\"start_time_unix_nano\":1700000000000000000,\
\"end_time_unix_nano\":1700000000001500000,\"duration_ms\":1.5,\
\"status\":{\"code\":\"error\",\"message\":\"card declined\"},\
\"attributes\":{\"cart.id\":42,\"ok\":false,\"ratio\":1.0,\"user\":\"ann\",\"tags\":[\"a\",\"b\"],\"ids\":[1,-2]},\
\"events\":[{\"name\":\"exception\",\"time_unix_nano\":1700000000000000250,\
\"attributes\":{\"exception.type\":\"PaymentError\"}}],\"service\":\"checkout\",\"scope\":\"x\"}
{\"trace_id\":\"1-6740a1b2-5f1c2d3e4f5a6b7c8d9e0f1a\",\"otel_trace_id\":\"6740a1b25f1c2d3e4f5a6b7c8d9e0f1a\",\
\"span_id\":\"00f067aa0ba902b7\",\"parent_span_id\":null,\"parent_is_remote\":false,\
\"name\":\"handle_order\",\"kind\":\"server\",\"start_time_unix_nano\":1700000000000000000,\
\"end_time_unix_nano\":1700000000001500000,\"duration_ms\":1.5,\
\"status\":{\"code\":\"unset\",\"message\":null},\"attributes\":{},\"events\":[],\
\"service\":\"checkout\",\"scope\":\"x\"}
";
        assert_eq!(text, expected);
        assert_eq!(writes, 1, "the whole batch is written at once");
        for line in text.lines() {
            assert_eq!(check_json(line), Ok(()), "{line}");
        }
    }

    #[test]
    fn escapes_strings() {
        let mut odd = span(
            1,
            2,
            "say \"hi\" \\ now\nnext\ttab\r\u{0}\u{1}\u{8}\u{c}\u{1f}\u{7f}",
        );
        odd.parent_span_is_remote = true;
        odd.status = Status::Ok;
        odd.attributes = vec![
            KeyValue::new("unicode", "é 😀 \u{2028} ü"),
            KeyValue::new("key \"with\" quotes\n", "v"),
        ];
        odd.instrumentation_scope = InstrumentationScope::builder("scope\"\\").build();
        let (text, _) = export(Some("svc\n\"x\""), vec![odd]);
        assert_eq!(text.lines().count(), 1, "newlines are escaped");
        let line = text.trim_end_matches('\n');
        assert_eq!(check_json(line), Ok(()), "{line}");
        assert!(line.contains(r#""name":"say \"hi\" \\ now\nnext\ttab\r\u0000\u0001\b\f\u001f"#));
        assert!(line.contains("\u{7f}\",\"kind\":\"internal\""));
        assert!(line.contains(r#""parent_is_remote":true"#));
        assert!(line.contains(r#""status":{"code":"ok","message":null}"#));
        assert!(line.contains("\"unicode\":\"é 😀 \u{2028} ü\""));
        assert!(line.contains(r#""key \"with\" quotes\n":"v""#));
        assert!(line.contains(r#""service":"svc\n\"x\"","scope":"scope\"\\"}"#));
    }

    #[test]
    fn non_finite_floats_are_strings() {
        let mut s = span(1, 0, "floats");
        s.attributes = vec![
            KeyValue::new("nan", f64::NAN),
            KeyValue::new("inf", f64::INFINITY),
            KeyValue::new("ninf", f64::NEG_INFINITY),
            KeyValue::new(
                "all",
                Value::Array(vec![f64::NAN, 0.5, f64::INFINITY, f64::NEG_INFINITY].into()),
            ),
        ];
        let (text, _) = export(None, vec![s]);
        assert_eq!(check_json(text.trim_end()), Ok(()), "{text}");
        assert!(text.contains(
            r#""attributes":{"nan":"NaN","inf":"inf","ninf":"-inf","all":["NaN",0.5,"inf","-inf"]}"#
        ));
        assert!(text.contains(r#""service":null"#));
    }

    #[test]
    fn every_line_is_valid_json() {
        let floats = [
            0.0,
            -0.0,
            1.0,
            -1.5,
            0.1,
            1e-7,
            1.5e300,
            -2.5e-300,
            f64::MIN_POSITIVE,
            5e-324,
            f64::MAX,
            f64::MIN,
            1e16,
            123456789.125,
        ];
        let all_ascii: String = (0u8..=0x7f).map(char::from).collect();
        let mut batch = Vec::new();
        for (i, &f) in floats.iter().enumerate() {
            let mut s = span(i as u64 + 1, i as u64, all_ascii.clone());
            s.attributes = vec![
                KeyValue::new("f", f),
                KeyValue::new("fs", Value::Array(vec![f, -f].into())),
                KeyValue::new("i", i64::MIN + i as i64),
                KeyValue::new(all_ascii.clone(), all_ascii.clone()),
            ];
            s.status = Status::error(all_ascii.clone());
            // Times before the epoch and ends before starts must not break output.
            s.start_time = SystemTime::UNIX_EPOCH - Duration::from_secs(i as u64);
            s.end_time = SystemTime::UNIX_EPOCH;
            s.events
                .events
                .push(Event::new(all_ascii.clone(), s.start_time, Vec::new(), 0));
            batch.push(s);
        }
        let (text, writes) = export(None, batch);
        assert_eq!(writes, 1);
        assert_eq!(text.lines().count(), floats.len());
        for line in text.lines() {
            assert_eq!(check_json(line), Ok(()), "{line}");
        }
        assert!(text.contains(r#""f":1.5e300,"#), "exponent form kept");
        assert!(text.contains(r#""start_time_unix_nano":0,"#));
    }

    #[test]
    fn lifecycle() {
        let out = SharedBuf::default();
        let exporter = JsonExporter::new(out.clone());
        assert!(block_on(exporter.export(Vec::new())).is_ok());
        assert_eq!(out.take(), (String::new(), 0), "empty batch writes nothing");
        assert!(exporter.force_flush().is_ok());
        assert!(exporter.shutdown().is_ok());
        assert!(exporter.shutdown().is_err());
        assert!(block_on(exporter.export(vec![span(1, 0, "late")])).is_err());
        assert_eq!(out.take().0, "");
        assert!(format!("{exporter:?}").starts_with("JsonExporter"));
    }

    #[test]
    fn works_behind_a_real_tracer_provider() {
        use opentelemetry::trace::{Tracer, TracerProvider};
        use opentelemetry_sdk::trace::SdkTracerProvider;

        let out = SharedBuf::default();
        let provider = SdkTracerProvider::builder()
            .with_resource(Resource::builder_empty().with_service_name("demo").build())
            .with_simple_exporter(JsonExporter::new(out.clone()))
            .build();
        let tracer = provider.tracer("lib");
        tracer.in_span("outer", |_| tracer.in_span("inner", |_| {}));
        provider.shutdown().unwrap();
        let (text, _) = out.take();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        for line in &lines {
            assert_eq!(check_json(line), Ok(()), "{line}");
            assert!(
                line.ends_with(r#""service":"demo","scope":"lib"}"#),
                "{line}"
            );
        }
        assert!(lines[0].contains(r#""name":"inner""#));
        assert!(lines[1].contains(r#""parent_span_id":null"#));
    }
}
