//! Console tree exporter: prints every finished trace as an indented tree.
//!
//! Spans of one trace reach an exporter over several batches, and children
//! end before their parents. [`ConsoleExporter`] buffers finished spans per
//! trace and prints the whole tree once the trace's local root span (a span
//! without a parent, or whose parent lives in another process) has arrived:
//!
//! ```text
//! trace 1-6740a1b2-5f1c2d3e4f5a6b7c8d9e0f1a  service=checkout  sampled
//! └─ handle_order [server] 12.31 ms
//!    ├─ load_cart 1.20 ms  cart.id=42 user="ann"
//!    │  └─ query_db 0.80 ms  db.system="postgresql"
//!    └─ charge [client] 3.10 ms  ERROR card declined
//!       • exception  exception.type="PaymentError" exception.message="card declined"
//! ```

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};
use opentelemetry::{Array, KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use crate::record::{ANNOTATIONS_KEY, CANCELLED_KEY};
use crate::sampler::SAMPLING_RULE_KEY;

/// Most finished spans held back while waiting for their trace's root span.
const MAX_BUFFERED_SPANS: usize = 4096;
/// Longest attribute value, name or description printed, in characters.
const MAX_VALUE_CHARS: usize = 120;

/// A [`SpanExporter`] that prints each finished trace as a readable tree.
///
/// Finished spans are buffered per trace until the trace's local root span
/// ends; then the whole tree is written at once: children sorted by start
/// time, each line with the span kind, duration, status and attributes, and
/// span events below their span. Attributes listed in `aws.xray.annotations`
/// are printed with a leading `@`. Spans whose parent has not been exported
/// when the root is printed appear at the top level of the tree.
///
/// [`force_flush`](SpanExporter::force_flush) and
/// [`shutdown`](SpanExporter::shutdown) print everything still buffered.
/// At most 4096 spans are buffered; beyond that the oldest trace is printed
/// as it is. Output is plain text without colors; write errors are ignored.
///
/// # Example
///
/// ```
/// use opentelemetry::trace::{Tracer, TracerProvider};
/// use opentelemetry_sdk::trace::SdkTracerProvider;
/// use xray_runtime::export::ConsoleExporter;
///
/// let provider = SdkTracerProvider::builder()
///     .with_simple_exporter(ConsoleExporter::stdout())
///     .build();
/// provider.tracer("demo").in_span("handle_order", |_cx| {});
/// provider.shutdown().unwrap();
/// ```
pub struct ConsoleExporter {
    service: Option<String>,
    state: Mutex<State>,
    is_shutdown: AtomicBool,
}

struct State {
    writer: Box<dyn Write + Send>,
    buffer: TraceBuffer,
}

impl ConsoleExporter {
    /// Creates an exporter printing to standard output.
    ///
    /// # Example
    ///
    /// ```
    /// use opentelemetry_sdk::trace::SdkTracerProvider;
    /// use xray_runtime::export::ConsoleExporter;
    ///
    /// let provider = SdkTracerProvider::builder()
    ///     .with_simple_exporter(ConsoleExporter::stdout())
    ///     .build();
    /// # provider.shutdown().unwrap();
    /// ```
    #[must_use]
    pub fn stdout() -> Self {
        Self::new(io::stdout())
    }

    /// Creates an exporter printing to `writer`, e.g. standard error or a file.
    ///
    /// # Example
    ///
    /// ```
    /// use opentelemetry_sdk::trace::SdkTracerProvider;
    /// use xray_runtime::export::ConsoleExporter;
    ///
    /// let provider = SdkTracerProvider::builder()
    ///     .with_simple_exporter(ConsoleExporter::new(std::io::stderr()))
    ///     .build();
    /// # provider.shutdown().unwrap();
    /// ```
    #[must_use]
    pub fn new(writer: impl Write + Send + 'static) -> Self {
        Self {
            service: None,
            state: Mutex::new(State {
                writer: Box::new(writer),
                buffer: TraceBuffer::default(),
            }),
            is_shutdown: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn export_batch(&self, batch: Vec<SpanData>) {
        let mut state = self.lock();
        let mut seen_roots = HashSet::new();
        let mut completed = Vec::new();
        for span in batch {
            let trace_id = span.span_context.trace_id();
            if is_local_root(&span) && seen_roots.insert(trace_id) {
                completed.push(trace_id);
            }
            state.buffer.push(span);
        }
        for trace_id in completed {
            if let Some(spans) = state.buffer.take(trace_id) {
                self.print(&mut state, &spans);
            }
        }
        while state.buffer.span_count > MAX_BUFFERED_SPANS {
            match state.buffer.take_oldest() {
                Some(spans) => self.print(&mut state, &spans),
                None => break,
            }
        }
    }

    fn print_all(&self) {
        let mut state = self.lock();
        while let Some(spans) = state.buffer.take_oldest() {
            self.print(&mut state, &spans);
        }
        let _ = state.writer.flush();
    }

    fn print(&self, state: &mut State, spans: &[SpanData]) {
        let text = render_trace(spans, self.service.as_deref());
        // Output is best effort: a closed stdout must not break the application.
        let _ = state.writer.write_all(text.as_bytes());
        let _ = state.writer.flush();
    }
}

impl Default for ConsoleExporter {
    /// Same as [`ConsoleExporter::stdout`].
    fn default() -> Self {
        Self::stdout()
    }
}

impl fmt::Debug for ConsoleExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsoleExporter")
            .field("service", &self.service)
            .field("is_shutdown", &self.is_shutdown.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl SpanExporter for ConsoleExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if self.is_shutdown.load(Ordering::Acquire) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        self.export_batch(batch);
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        if self.is_shutdown.swap(true, Ordering::AcqRel) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        self.print_all();
        Ok(())
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.print_all();
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.service = resource
            .get(&"service.name".into())
            .map(|name| name.as_str().into_owned());
    }
}

impl Drop for ConsoleExporter {
    fn drop(&mut self) {
        // Spans buffered by an exporter that was never shut down would
        // otherwise vanish silently.
        if !self.is_shutdown.load(Ordering::Acquire) {
            self.print_all();
        }
    }
}

/// Whether `span` is the root of its trace within this process.
fn is_local_root(span: &SpanData) -> bool {
    span.parent_span_id == SpanId::INVALID || span.parent_span_is_remote
}

/// Finished spans waiting for their trace's root, oldest trace first.
#[derive(Default)]
struct TraceBuffer {
    traces: HashMap<TraceId, PendingTrace>,
    /// Trace ids by arrival of their first buffered span.
    by_age: BTreeMap<u64, TraceId>,
    next_seq: u64,
    span_count: usize,
}

struct PendingTrace {
    seq: u64,
    spans: Vec<SpanData>,
}

impl TraceBuffer {
    fn push(&mut self, span: SpanData) {
        let trace_id = span.span_context.trace_id();
        let pending = self.traces.entry(trace_id).or_insert_with(|| {
            let seq = self.next_seq;
            self.next_seq += 1;
            self.by_age.insert(seq, trace_id);
            PendingTrace {
                seq,
                spans: Vec::new(),
            }
        });
        pending.spans.push(span);
        self.span_count += 1;
    }

    fn take(&mut self, trace_id: TraceId) -> Option<Vec<SpanData>> {
        let pending = self.traces.remove(&trace_id)?;
        self.by_age.remove(&pending.seq);
        self.span_count -= pending.spans.len();
        Some(pending.spans)
    }

    fn take_oldest(&mut self) -> Option<Vec<SpanData>> {
        let (_, trace_id) = self.by_age.pop_first()?;
        let pending = self.traces.remove(&trace_id)?;
        self.span_count -= pending.spans.len();
        Some(pending.spans)
    }
}

/// Renders one trace block: a header line, the span tree and a blank line.
fn render_trace(spans: &[SpanData], service: Option<&str>) -> String {
    let Some(first) = spans.first() else {
        return String::new();
    };
    let tree = Tree::build(spans);
    let mut out = String::new();

    out.push_str("trace ");
    push_xray_trace_id(&mut out, first.span_context.trace_id());
    if let Some(service) = service {
        out.push_str("  service=");
        push_escaped(&mut out, service, false, MAX_VALUE_CHARS);
    }
    let root = spans.iter().find(|span| is_local_root(span));
    let sampled = root.unwrap_or(first).span_context.is_sampled();
    let sampling = if sampled { "sampled" } else { "not sampled" };
    out.push_str("  ");
    out.push_str(sampling);
    if let Some(rule) = root.and_then(sampling_rule) {
        out.push_str(" by rule \"");
        push_escaped(&mut out, &rule, true, MAX_VALUE_CHARS);
        out.push('"');
    }
    match spans
        .iter()
        .find(|span| span.parent_span_is_remote && span.parent_span_id != SpanId::INVALID)
    {
        Some(span) => {
            let _ = write!(out, "  (continued from parent {})", span.parent_span_id);
        }
        None if root.is_none() => out.push_str("  (partial)"),
        None => {}
    }
    out.push('\n');

    // Iterative depth-first walk: deep trees cannot overflow the stack.
    let mut stack: Vec<(usize, String, bool)> = Vec::new();
    let count = tree.top.len();
    for (i, &node) in tree.top.iter().enumerate().rev() {
        stack.push((node, String::new(), i + 1 == count));
    }
    while let Some((node, prefix, last)) = stack.pop() {
        let span = &spans[node];
        out.push_str(&prefix);
        out.push_str(if last { "└─ " } else { "├─ " });
        push_span_line(&mut out, span, tree.orphan[node]);
        out.push('\n');

        let child_prefix = format!("{prefix}{}", if last { "   " } else { "│  " });
        for event in span.events.iter() {
            out.push_str(&child_prefix);
            out.push_str("• ");
            push_escaped(&mut out, &event.name, false, MAX_VALUE_CHARS);
            if !event.attributes.is_empty() {
                out.push(' ');
                for kv in &event.attributes {
                    out.push(' ');
                    push_attribute(&mut out, kv, false);
                }
            }
            out.push('\n');
        }

        let children = &tree.children[node];
        for (i, &child) in children.iter().enumerate().rev() {
            stack.push((child, child_prefix.clone(), i + 1 == children.len()));
        }
    }
    out.push('\n');
    out
}

/// Parent/child structure of one trace's buffered spans, by index.
struct Tree {
    /// Spans printed at the top level, sorted by start time.
    top: Vec<usize>,
    /// Children of each span, sorted by start time.
    children: Vec<Vec<usize>>,
    /// Spans whose (local) parent is not among the buffered spans.
    orphan: Vec<bool>,
}

impl Tree {
    fn build(spans: &[SpanData]) -> Self {
        let mut index = HashMap::with_capacity(spans.len());
        for (i, span) in spans.iter().enumerate() {
            index.entry(span.span_context.span_id()).or_insert(i);
        }

        let mut by_start: Vec<usize> = (0..spans.len()).collect();
        by_start.sort_by_key(|&i| spans[i].start_time);

        let mut linked = vec![Vec::new(); spans.len()];
        let mut orphan = vec![false; spans.len()];
        let mut top = Vec::new();
        for &i in &by_start {
            let span = &spans[i];
            if is_local_root(span) {
                top.push(i);
                continue;
            }
            match index.get(&span.parent_span_id) {
                Some(&parent) if parent != i => linked[parent].push(i),
                Some(_) => top.push(i),
                None => {
                    orphan[i] = true;
                    top.push(i);
                }
            }
        }

        // Keep only the edges that first reach each span, so that malformed
        // input (parent cycles, duplicate span ids) still prints every span
        // exactly once.
        let mut children = vec![Vec::new(); spans.len()];
        let mut seen = vec![false; spans.len()];
        for &node in &top {
            attach_subtree(node, &linked, &mut seen, &mut children);
        }
        let mut extra = Vec::new();
        for &node in &by_start {
            if !seen[node] {
                extra.push(node);
                attach_subtree(node, &linked, &mut seen, &mut children);
            }
        }
        if !extra.is_empty() {
            top.extend(extra);
            top.sort_by_key(|&i| spans[i].start_time);
        }
        Self {
            top,
            children,
            orphan,
        }
    }
}

/// Marks every span reachable from `start` through `linked` as seen, and
/// records in `children` the edge that first reached it.
fn attach_subtree(
    start: usize,
    linked: &[Vec<usize>],
    seen: &mut [bool],
    children: &mut [Vec<usize>],
) {
    seen[start] = true;
    let mut pending = vec![start];
    while let Some(node) = pending.pop() {
        for &child in &linked[node] {
            if !seen[child] {
                seen[child] = true;
                children[node].push(child);
                pending.push(child);
            }
        }
    }
}

/// The X-Ray sampling rule that sampled the trace of `root`.
fn sampling_rule(root: &SpanData) -> Option<Cow<'_, str>> {
    root.attributes
        .iter()
        .find(|kv| kv.key.as_str() == SAMPLING_RULE_KEY)
        .map(|kv| kv.value.as_str())
}

/// One span line without tree prefix: name, kind, duration, status, attributes.
fn push_span_line(out: &mut String, span: &SpanData, orphan: bool) {
    push_escaped(out, &span.name, false, MAX_VALUE_CHARS);
    match span.span_kind {
        SpanKind::Internal => {}
        SpanKind::Server => out.push_str(" [server]"),
        SpanKind::Client => out.push_str(" [client]"),
        SpanKind::Producer => out.push_str(" [producer]"),
        SpanKind::Consumer => out.push_str(" [consumer]"),
    }
    out.push(' ');
    push_duration(
        out,
        span.end_time
            .duration_since(span.start_time)
            .unwrap_or_default(),
    );

    if let Status::Error { description } = &span.status {
        out.push_str("  ERROR");
        if !description.is_empty() {
            out.push(' ');
            push_escaped(out, description, false, MAX_VALUE_CHARS);
        }
    }

    let cancelled = span
        .attributes
        .iter()
        .any(|kv| kv.key.as_str() == CANCELLED_KEY && is_true(&kv.value));
    if cancelled {
        out.push_str("  CANCELLED");
    }

    let annotations = annotation_keys(&span.attributes);
    let mut separator = "  ";
    for kv in &span.attributes {
        let key = kv.key.as_str();
        // The sampling rule is said on the trace's line.
        if key == ANNOTATIONS_KEY
            || (key == CANCELLED_KEY && cancelled)
            || (key == SAMPLING_RULE_KEY && is_local_root(span))
        {
            continue;
        }
        out.push_str(separator);
        separator = " ";
        push_attribute(out, kv, annotations.contains(key));
    }

    if orphan {
        let _ = write!(out, "  (parent {} not exported)", span.parent_span_id);
    }
}

/// Keys listed in the span's `aws.xray.annotations` attribute.
fn annotation_keys(attributes: &[KeyValue]) -> HashSet<&str> {
    attributes
        .iter()
        .filter(|kv| kv.key.as_str() == ANNOTATIONS_KEY)
        .flat_map(|kv| match &kv.value {
            Value::Array(Array::String(keys)) => keys.iter().map(|key| key.as_str()).collect(),
            Value::String(key) => vec![key.as_str()],
            _ => Vec::new(),
        })
        .collect()
}

fn is_true(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::String(s) => s.as_str() == "true",
        _ => false,
    }
}

/// `key=value`, with a leading `@` for X-Ray annotations.
fn push_attribute(out: &mut String, kv: &KeyValue, annotation: bool) {
    if annotation {
        out.push('@');
    }
    push_escaped(out, kv.key.as_str(), false, MAX_VALUE_CHARS);
    out.push('=');
    push_value(out, &kv.value);
}

/// An attribute value: strings quoted and escaped, arrays as `[a, b]`,
/// at most [`MAX_VALUE_CHARS`] characters.
fn push_value(out: &mut String, value: &Value) {
    let mut text = String::new();
    match value {
        Value::String(s) => {
            out.push('"');
            push_escaped(out, s.as_str(), true, MAX_VALUE_CHARS);
            out.push('"');
            return;
        }
        Value::Bool(b) => {
            let _ = write!(text, "{b}");
        }
        Value::I64(i) => {
            let _ = write!(text, "{i}");
        }
        Value::F64(f) => {
            let _ = write!(text, "{f:?}");
        }
        Value::Array(array) => push_array(&mut text, array),
        other => push_escaped(&mut text, &other.as_str(), false, usize::MAX),
    }
    push_truncated(out, &text, MAX_VALUE_CHARS);
}

fn push_array(out: &mut String, array: &Array) {
    fn items<T>(out: &mut String, values: &[T], mut item: impl FnMut(&mut String, &T)) {
        out.push('[');
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            item(out, value);
            if out.len() > MAX_VALUE_CHARS * 4 {
                // Already far too long to be shown in full.
                break;
            }
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
        Array::F64(values) => items(out, values, |out, f| {
            let _ = write!(out, "{f:?}");
        }),
        Array::String(values) => items(out, values, |out, s| {
            out.push('"');
            push_escaped(out, s.as_str(), true, MAX_VALUE_CHARS);
            out.push('"');
        }),
        other => push_escaped(out, &other.to_string(), false, usize::MAX),
    }
}

/// Appends `text`, cut to at most `max` characters ending in `…`.
fn push_truncated(out: &mut String, text: &str, max: usize) {
    match text.char_indices().nth(max) {
        None => out.push_str(text),
        Some(_) => {
            let cut = text
                .char_indices()
                .nth(max.saturating_sub(1))
                .map_or(text.len(), |(at, _)| at);
            out.push_str(&text[..cut]);
            out.push('…');
        }
    }
}

/// Appends `text` with control characters escaped (and, when `quoted`, `"`
/// and backslashes too), so that it stays on one line and unambiguous. Output longer
/// than `max` characters is cut to `max` characters ending in `…`, never
/// inside an escape sequence.
fn push_escaped(out: &mut String, text: &str, quoted: bool, max: usize) {
    let start = out.len();
    let mut chars = 0usize;
    let mut fits = start;
    for c in text.chars() {
        chars += push_escaped_char(out, c, quoted);
        if chars < max {
            fits = out.len();
        } else if chars > max {
            out.truncate(fits);
            out.push('…');
            return;
        }
    }
}

/// Appends one character, escaped if needed; returns the characters written.
fn push_escaped_char(out: &mut String, c: char, quoted: bool) -> usize {
    let escape = match c {
        '"' | '\\' if quoted => {
            out.push('\\');
            out.push(c);
            return 2;
        }
        '\n' => "\\n",
        '\r' => "\\r",
        '\t' => "\\t",
        c if c.is_control() => {
            let before = out.len();
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            return out.len() - before;
        }
        c => {
            out.push(c);
            return 1;
        }
    };
    out.push_str(escape);
    escape.len()
}

/// `845.20 µs`, `12.31 ms`, `2.50 s`.
fn push_duration(out: &mut String, duration: Duration) {
    let nanos = duration.as_nanos() as f64;
    // Thresholds account for rounding to two decimals (999.996 µs is 1.00 ms).
    let _ = if nanos < 999_995.0 {
        write!(out, "{:.2} µs", nanos / 1e3)
    } else if nanos < 999_995_000.0 {
        write!(out, "{:.2} ms", nanos / 1e6)
    } else {
        write!(out, "{:.2} s", nanos / 1e9)
    };
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
    use std::time::SystemTime;

    use opentelemetry::trace::{
        Event, SpanContext, TraceContextExt, TraceFlags, TraceState, Tracer, TracerProvider,
    };
    use opentelemetry::{InstrumentationScope, StringValue};
    use opentelemetry_sdk::trace::{SdkTracerProvider, SpanEvents, SpanLinks};

    /// In-memory output shared between a test and its exporter.
    #[derive(Clone, Default)]
    struct SharedBuf(Arc<Mutex<Vec<u8>>>);

    impl SharedBuf {
        fn take(&self) -> String {
            let bytes = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
            String::from_utf8(bytes).expect("console output is UTF-8")
        }
    }

    impl Write for SharedBuf {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut bytes = self.0.lock().unwrap_or_else(|e| e.into_inner());
            bytes.extend_from_slice(buf);
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

    fn at(micros: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000) + Duration::from_micros(micros)
    }

    /// A finished span of `trace` starting `start_us` after a fixed instant.
    fn span(
        trace: u128,
        id: u64,
        parent: u64,
        name: &'static str,
        start_us: u64,
        duration_ns: u64,
    ) -> SpanData {
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(trace),
                SpanId::from(id),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::from(parent),
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: Cow::Borrowed(name),
            start_time: at(start_us),
            end_time: at(start_us) + Duration::from_nanos(duration_ns),
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::builder("test").build(),
        }
    }

    fn strings(items: &[&'static str]) -> Value {
        Value::Array(Array::String(
            items.iter().map(|&item| StringValue::from(item)).collect(),
        ))
    }

    fn exporter(service: Option<&'static str>) -> (ConsoleExporter, SharedBuf) {
        let out = SharedBuf::default();
        let mut exporter = ConsoleExporter::new(out.clone());
        if let Some(service) = service {
            exporter.set_resource(&Resource::builder_empty().with_service_name(service).build());
        }
        (exporter, out)
    }

    fn export(exporter: &ConsoleExporter, batch: Vec<SpanData>) {
        block_on(exporter.export(batch)).expect("export succeeds");
    }

    /// The trace of the module documentation, plus annotations.
    fn checkout_trace() -> Vec<SpanData> {
        let mut root = span(TRACE, 1, 0, "handle_order", 0, 12_310_000);
        root.span_kind = SpanKind::Server;
        root.attributes = vec![
            KeyValue::new("tier", "gold"),
            KeyValue::new("http.route", "/orders"),
            KeyValue::new(ANNOTATIONS_KEY, strings(&["tier"])),
        ];
        let mut load_cart = span(TRACE, 2, 1, "load_cart", 100, 1_200_000);
        load_cart.attributes = vec![KeyValue::new("cart.id", 42), KeyValue::new("user", "ann")];
        let mut query_db = span(TRACE, 3, 2, "query_db", 200, 845_200);
        query_db.attributes = vec![KeyValue::new("db.system", "postgresql")];
        let mut charge = span(TRACE, 4, 1, "charge", 2_000, 3_100_000);
        charge.span_kind = SpanKind::Client;
        charge.status = Status::error("card declined");
        charge.events.events.push(Event::new(
            "exception",
            at(4_000),
            vec![
                KeyValue::new("exception.type", "PaymentError"),
                KeyValue::new("exception.message", "card declined"),
            ],
            0,
        ));
        vec![query_db, load_cart, charge, root]
    }

    const CHECKOUT_TREE: &str = "\
trace 1-6740a1b2-5f1c2d3e4f5a6b7c8d9e0f1a  service=checkout  sampled
└─ handle_order [server] 12.31 ms  @tier=\"gold\" http.route=\"/orders\"
   ├─ load_cart 1.20 ms  cart.id=42 user=\"ann\"
   │  └─ query_db 845.20 µs  db.system=\"postgresql\"
   └─ charge [client] 3.10 ms  ERROR card declined
      • exception  exception.type=\"PaymentError\" exception.message=\"card declined\"

";

    #[test]
    fn prints_tree_once_root_arrives() {
        let (exporter, out) = exporter(Some("checkout"));
        let mut spans = checkout_trace();
        let second = spans.split_off(2);

        export(&exporter, spans);
        assert_eq!(out.take(), "", "nothing printed before the root ends");

        export(&exporter, second);
        assert_eq!(out.take(), CHECKOUT_TREE);

        exporter.force_flush().unwrap();
        exporter.shutdown().unwrap();
        assert_eq!(out.take(), "", "a printed trace is not printed again");
    }

    #[test]
    fn children_sorted_by_start_time_whatever_the_arrival_order() {
        let (exporter, out) = exporter(None);
        export(
            &exporter,
            vec![
                span(TRACE, 4, 1, "third", 300, 1_000),
                span(TRACE, 2, 1, "first", 100, 1_000),
                span(TRACE, 3, 1, "second", 200, 1_000),
                span(TRACE, 1, 0, "root", 0, 2_000_000_000),
            ],
        );
        assert_eq!(
            out.take(),
            "\
trace 1-6740a1b2-5f1c2d3e4f5a6b7c8d9e0f1a  sampled
└─ root 2.00 s
   ├─ first 1.00 µs
   ├─ second 1.00 µs
   └─ third 1.00 µs

"
        );
    }

    #[test]
    fn spans_of_open_parents_print_at_top_level() {
        let (exporter, out) = exporter(Some("checkout"));
        // `worker` (2) is still running when the root ends; its child is done.
        export(&exporter, vec![span(TRACE, 3, 2, "step", 50, 1_000)]);
        export(&exporter, vec![span(TRACE, 1, 0, "request", 0, 5_000)]);
        assert_eq!(
            out.take(),
            "\
trace 1-6740a1b2-5f1c2d3e4f5a6b7c8d9e0f1a  service=checkout  sampled
├─ request 5.00 µs
└─ step 1.00 µs  (parent 0000000000000002 not exported)

"
        );

        // `worker` ends after the tree was printed: shown at shutdown.
        export(&exporter, vec![span(TRACE, 2, 1, "worker", 10, 9_000_000)]);
        assert_eq!(out.take(), "");
        exporter.shutdown().unwrap();
        assert_eq!(
            out.take(),
            "\
trace 1-6740a1b2-5f1c2d3e4f5a6b7c8d9e0f1a  service=checkout  sampled  (partial)
└─ worker 9.00 ms  (parent 0000000000000001 not exported)

"
        );
        assert!(block_on(exporter.export(Vec::new())).is_err());
        assert!(exporter.shutdown().is_err());
    }

    #[test]
    fn flush_prints_buffered_traces_oldest_first() {
        let (exporter, out) = exporter(None);
        export(
            &exporter,
            vec![
                span(2, 22, 21, "b-child", 0, 1_000),
                span(1, 12, 11, "a-child", 0, 1_000),
                span(1, 13, 12, "a-grandchild", 1, 1_000),
            ],
        );
        exporter.force_flush().unwrap();
        assert_eq!(
            out.take(),
            "\
trace 1-00000000-000000000000000000000002  sampled  (partial)
└─ b-child 1.00 µs  (parent 0000000000000015 not exported)

trace 1-00000000-000000000000000000000001  sampled  (partial)
└─ a-child 1.00 µs  (parent 000000000000000b not exported)
   └─ a-grandchild 1.00 µs

"
        );
        exporter.force_flush().unwrap();
        assert_eq!(out.take(), "");
    }

    #[test]
    fn remote_parent_is_noted_in_the_header() {
        let (exporter, out) = exporter(Some("inventory"));
        let mut root = span(TRACE, 7, 0x53995c3f42cd8ad8, "reserve", 0, 845_200);
        root.parent_span_is_remote = true;
        root.span_kind = SpanKind::Consumer;
        export(&exporter, vec![root]);
        assert_eq!(
            out.take(),
            "\
trace 1-6740a1b2-5f1c2d3e4f5a6b7c8d9e0f1a  service=inventory  sampled  (continued from parent 53995c3f42cd8ad8)
└─ reserve [consumer] 845.20 µs

"
        );
    }

    #[test]
    fn buffer_is_bounded() {
        let (exporter, out) = exporter(None);
        // 50 traces of 100 spans each, all children of spans still open.
        let spans: Vec<SpanData> = (0..5000u64)
            .map(|i| span(u128::from(i / 100 + 1), i + 1000, 1, "work", i, 1_000))
            .collect();
        for batch in spans.chunks(64) {
            export(&exporter, batch.to_vec());
            assert!(exporter.lock().buffer.span_count <= MAX_BUFFERED_SPANS);
        }
        let early = out.take();
        assert!(
            early.starts_with("trace 1-00000000-000000000000000000000001  sampled  (partial)\n"),
            "oldest trace printed first: {}",
            &early[..early.len().min(200)]
        );
        let early_spans = early.matches(" work ").count();
        assert!(early_spans >= 5000 - MAX_BUFFERED_SPANS);
        assert_eq!(early_spans % 100, 0, "traces are printed whole");

        exporter.shutdown().unwrap();
        let rest = out.take();
        assert_eq!(early_spans + rest.matches(" work ").count(), 5000);
        assert_eq!(exporter.lock().buffer.span_count, 0);
        assert!(exporter.lock().buffer.traces.is_empty());
        assert!(exporter.lock().buffer.by_age.is_empty());
    }

    #[test]
    fn one_huge_trace_is_printed_when_over_the_bound() {
        let (exporter, out) = exporter(None);
        let spans: Vec<SpanData> = (0..5000u64)
            .map(|i| span(TRACE, i + 2, 1, "work", i, 1_000))
            .collect();
        export(&exporter, spans);
        assert_eq!(out.take().matches(" work ").count(), 5000);
        assert_eq!(exporter.lock().buffer.span_count, 0);
    }

    #[test]
    fn the_sampling_rule_is_said_on_the_trace_line() {
        let (exporter, out) = exporter(None);
        let mut root = span(TRACE, 1, 0, "GET /api", 0, 1_000_000);
        root.attributes = vec![
            KeyValue::new(SAMPLING_RULE_KEY, "api \"v2\""),
            KeyValue::new("http.request.method", "GET"),
        ];
        export(&exporter, vec![root]);
        assert_eq!(
            out.take(),
            "\
trace 1-6740a1b2-5f1c2d3e4f5a6b7c8d9e0f1a  sampled by rule \"api \\\"v2\\\"\"
└─ GET /api 1.00 ms  http.request.method=\"GET\"

"
        );
    }

    #[test]
    fn status_cancel_events_and_values() {
        let (exporter, out) = exporter(None);
        let mut root = span(TRACE, 1, 0, "job", 0, 999_999);
        root.attributes = vec![
            KeyValue::new(CANCELLED_KEY, true),
            KeyValue::new("ratio", 0.5),
            KeyValue::new("nan", f64::NAN),
            KeyValue::new("ok", false),
            KeyValue::new("ids", Value::Array(vec![1i64, 2, 3].into())),
            KeyValue::new("tags", strings(&["a", "b \"c\""])),
            KeyValue::new("quote", "say \"hi\"\\\n\tbye\u{1b}"),
            KeyValue::new("long", "x".repeat(300)),
            KeyValue::new(ANNOTATIONS_KEY, "ratio"),
        ];
        root.status = Status::error("boom\nagain");
        root.events
            .events
            .push(Event::new("retry", at(10), Vec::new(), 0));
        root.events
            .events
            .push(Event::new("done", at(20), vec![KeyValue::new("n", -3)], 0));
        export(&exporter, vec![root]);
        let expected = format!(
            "\
trace 1-6740a1b2-5f1c2d3e4f5a6b7c8d9e0f1a  sampled
└─ job 1.00 ms  ERROR boom\\nagain  CANCELLED  @ratio=0.5 nan=NaN ok=false ids=[1, 2, 3] \
tags=[\"a\", \"b \\\"c\\\"\"] quote=\"say \\\"hi\\\"\\\\\\n\\tbye\\u{{1b}}\" long=\"{}…\"
   • retry
   • done  n=-3

",
            "x".repeat(119)
        );
        assert_eq!(out.take(), expected);
    }

    #[test]
    fn malformed_spans_print_once_without_panicking() {
        let (exporter, out) = exporter(None);
        let mut backwards = span(TRACE, 5, 9, "backwards", 100, 0);
        backwards.end_time = at(0);
        export(
            &exporter,
            vec![
                // A parent cycle, a self-parent, a duplicate span id.
                span(TRACE, 2, 3, "cycle-a", 0, 1_000),
                span(TRACE, 3, 2, "cycle-b", 1, 1_000),
                span(TRACE, 4, 4, "self", 2, 1_000),
                span(TRACE, 2, 3, "duplicate", 3, 1_000),
                backwards,
                span(TRACE, 6, 0, "", 4, 1_000),
            ],
        );
        let text = out.take();
        for name in ["cycle-a", "cycle-b", "self", "duplicate", "backwards"] {
            assert_eq!(
                text.matches(&format!(" {name} ")).count(),
                1,
                "{name}: {text}"
            );
        }
        assert!(text.contains("backwards 0.00 µs"), "{text}");
        assert_eq!(text.lines().filter(|line| line.contains("─ ")).count(), 6);
    }

    #[test]
    fn durations() {
        let cases = [
            (0, "0.00 µs"),
            (845_200, "845.20 µs"),
            (999_994, "999.99 µs"),
            (999_996, "1.00 ms"),
            (12_310_000, "12.31 ms"),
            (999_996_000, "1.00 s"),
            (2_500_000_000, "2.50 s"),
        ];
        for (nanos, text) in cases {
            let mut out = String::new();
            push_duration(&mut out, Duration::from_nanos(nanos));
            assert_eq!(out, text);
        }
    }

    #[test]
    fn escaping_and_truncation() {
        let mut out = String::new();
        push_escaped(&mut out, "a\u{7}b\"c\\", false, MAX_VALUE_CHARS);
        assert_eq!(out, "a\\u{7}b\"c\\");

        let mut out = String::new();
        push_escaped(&mut out, &"é".repeat(120), true, MAX_VALUE_CHARS);
        assert_eq!(out, "é".repeat(120), "exactly the limit is kept");

        // An escape sequence is never cut in half.
        let mut out = String::new();
        push_escaped(&mut out, &format!("{}\nz", "y".repeat(118)), true, 120);
        assert_eq!(out, format!("{}…", "y".repeat(118)));

        let mut out = String::new();
        let many: Vec<i64> = (0..1000).collect();
        push_value(&mut out, &Value::Array(many.into()));
        assert_eq!(out.chars().count(), MAX_VALUE_CHARS);
        assert!(out.starts_with("[0, 1, 2") && out.ends_with('…'));
    }

    #[test]
    fn works_behind_a_real_tracer_provider() {
        let out = SharedBuf::default();
        let provider = SdkTracerProvider::builder()
            .with_resource(Resource::builder_empty().with_service_name("demo").build())
            .with_simple_exporter(ConsoleExporter::new(out.clone()))
            .build();
        let tracer = provider.tracer("test");
        let trace_id = tracer.in_span("outer", |cx| {
            tracer.in_span("inner", |_| {});
            cx.span().span_context().trace_id()
        });
        provider.shutdown().unwrap();

        let text = out.take();
        let mut lines = text.lines();
        let mut header = String::from("trace ");
        push_xray_trace_id(&mut header, trace_id);
        header.push_str("  service=demo  sampled");
        assert_eq!(lines.next(), Some(header.as_str()));
        assert!(lines.next().unwrap_or_default().starts_with("└─ outer "));
        assert!(lines.next().unwrap_or_default().starts_with("   └─ inner "));
        assert_eq!(lines.next(), Some(""));
        assert_eq!(lines.next(), None);
    }
}
