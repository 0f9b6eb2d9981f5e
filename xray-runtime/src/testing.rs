//! Capture finished spans in memory, to assert on your own instrumentation.
//!
//! ```
//! use xray_runtime::traced;
//!
//! #[traced(attrs(order.id = id))]
//! fn load(id: u64) {}
//!
//! let capture = xray_runtime::testing::capture();
//! load(7);
//! let span = capture.span("load");
//! assert_eq!(span.attr_i64("order.id"), Some(7));
//! ```
//!
//! A capture replaces the global provider while it lives. Captures in one
//! process take turns (a second `capture()` waits for the first to drop), so
//! tests that use them may run in parallel threads.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry::{Array, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use crate::config::{Config, Resolved};
use crate::propagation::xray_trace_id;
use crate::provider::Guard;
use crate::record::ANNOTATIONS_KEY;
use crate::sampler::SamplerKind;

/// Installs a provider that keeps every finished span in memory.
///
/// Sampling is the production default: every new trace is sampled, and a
/// caller's decision from an incoming header is followed. Environment
/// variables are ignored.
pub fn capture() -> Capture {
    capture_with(SamplerKind::ParentBasedAlwaysOn)
}

/// Like [`capture`], with a given sampler (to test sampling decisions).
pub fn capture_with(sampler: SamplerKind) -> Capture {
    capture_config(Config::new().service_name("test").sampler(sampler))
}

/// Like [`capture`], set up by `config` (its exporter replaced by the
/// capture's): to test with X-Ray's sampling rules, a service name, ...
/// Environment variables are ignored, and no resource detector runs
/// unless `config` names some.
///
/// ```
/// use xray_runtime::{Config, SamplerKind, XraySampling};
///
/// let rules = std::env::temp_dir().join("capture-config-doc-rules.json");
/// std::fs::write(&rules, r#"{"version": 2, "default": {"fixed_target": 0, "rate": 0}}"#).unwrap();
/// let capture = xray_runtime::testing::capture_config(
///     Config::new()
///         .sampler(SamplerKind::Xray)
///         .xray_sampling(XraySampling::new().local_only().rules_file(&rules)),
/// );
/// #[xray_runtime::xray_root]
/// fn job() {}
/// job();
/// assert!(capture.spans().is_empty(), "the rules sample nothing");
/// ```
pub fn capture_config(config: Config) -> Capture {
    let turn = crate::state::TEST_INSTALLS
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let spans = Arc::new(Mutex::new(Vec::new()));
    let mut config = config;
    if config.resource_detectors.is_none() {
        // Spans are exported at once, with no cloud attributes to wait for.
        config = config.resource_detectors("none");
    }
    let config = config.with_exporter(MemoryExporter {
        spans: spans.clone(),
    });
    let resolved = Resolved::new(&config, &|_| None);
    let guard = crate::provider::install(config, resolved);
    Capture {
        spans,
        guard,
        _turn: turn,
    }
}

#[derive(Debug)]
struct MemoryExporter {
    spans: Arc<Mutex<Vec<SpanData>>>,
}

impl SpanExporter for MemoryExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.spans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(batch);
        Ok(())
    }
}

/// Finished spans of the installed in-memory provider; see [`capture`].
pub struct Capture {
    spans: Arc<Mutex<Vec<SpanData>>>,
    guard: Guard,
    _turn: MutexGuard<'static, ()>,
}

impl fmt::Debug for Capture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Capture")
            .field("guard", &self.guard)
            .finish()
    }
}

impl Capture {
    /// Every span finished so far, in the order they ended.
    pub fn spans(&self) -> Vec<FinishedSpan> {
        // Spans ended on other threads may still be on their way: flush.
        let _ = self.guard.flush();
        let spans = self.spans.lock().unwrap_or_else(|e| e.into_inner());
        spans.iter().map(FinishedSpan::from_data).collect()
    }

    /// The one finished span named `name`.
    ///
    /// # Panics
    /// If there is none, or more than one (the message lists what there is).
    pub fn span(&self, name: &str) -> FinishedSpan {
        let spans = self.spans();
        let mut matching = spans.iter().filter(|s| s.name == name);
        match (matching.next(), matching.next()) {
            (Some(span), None) => span.clone(),
            (None, _) => panic!(
                "no finished span named {name:?}; finished: {:?}",
                names(&spans)
            ),
            (Some(_), Some(_)) => panic!(
                "more than one finished span named {name:?}; finished: {:?}",
                names(&spans)
            ),
        }
    }

    /// Every finished span named `name`.
    pub fn spans_named(&self, name: &str) -> Vec<FinishedSpan> {
        self.spans()
            .into_iter()
            .filter(|s| s.name == name)
            .collect()
    }

    /// The direct children of `parent`, in the order they started.
    pub fn children(&self, parent: &FinishedSpan) -> Vec<FinishedSpan> {
        let mut children: Vec<_> = self
            .spans()
            .into_iter()
            .filter(|s| {
                s.trace_id == parent.trace_id
                    && s.parent_span_id.as_deref() == Some(&parent.span_id)
            })
            .collect();
        children.sort_by_key(|s| s.start_time);
        children
    }

    /// Forgets the spans captured so far.
    pub fn clear(&self) {
        let _ = self.guard.flush();
        self.spans.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

fn names(spans: &[FinishedSpan]) -> Vec<&str> {
    spans.iter().map(|s| s.name.as_str()).collect()
}

/// A span's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpanStatus {
    /// Nothing was recorded.
    Unset,
    /// Explicitly successful.
    Ok,
    /// Failed, with a description.
    Error(String),
}

/// An event recorded on a span (for example `exception`).
#[derive(Clone, Debug, PartialEq)]
pub struct FinishedEvent {
    /// Event name.
    pub name: String,
    /// Its attributes.
    pub attributes: Vec<(String, Value)>,
}

/// A link from a span to another; see [`Span::add_link`](crate::Span::add_link).
#[derive(Clone, Debug, PartialEq)]
pub struct FinishedLink {
    /// The linked span's trace id in X-Ray form.
    pub trace_id: String,
    /// The linked span's id, 16 hex digits.
    pub span_id: String,
    /// The link's attributes.
    pub attributes: Vec<(String, Value)>,
}

impl FinishedEvent {
    /// An attribute of the event rendered as text.
    pub fn attr(&self, key: &str) -> Option<String> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.to_string())
    }
}

/// A finished span, flattened for assertions.
#[derive(Clone, Debug, PartialEq)]
pub struct FinishedSpan {
    /// Span name.
    pub name: String,
    /// Trace id in X-Ray form (`1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx`).
    pub trace_id: String,
    /// Span id, 16 hex digits.
    pub span_id: String,
    /// Parent span id; `None` for a root.
    pub parent_span_id: Option<String>,
    /// Whether the parent is in another process.
    pub parent_is_remote: bool,
    /// Span kind.
    pub kind: SpanKind,
    /// Outcome.
    pub status: SpanStatus,
    /// Whether the span was sampled.
    pub sampled: bool,
    /// Attributes, in the order they were recorded.
    pub attributes: Vec<(String, Value)>,
    /// Events, in order.
    pub events: Vec<FinishedEvent>,
    /// Links to other spans, in the order they were added.
    pub links: Vec<FinishedLink>,
    /// Start time.
    pub start_time: SystemTime,
    /// End time.
    pub end_time: SystemTime,
}

impl FinishedSpan {
    fn from_data(data: &SpanData) -> Self {
        let parent = data.parent_span_id;
        Self {
            name: data.name.to_string(),
            trace_id: xray_trace_id(data.span_context.trace_id()),
            span_id: data.span_context.span_id().to_string(),
            parent_span_id: (parent != SpanId::INVALID).then(|| parent.to_string()),
            parent_is_remote: data.parent_span_is_remote,
            kind: data.span_kind.clone(),
            status: match &data.status {
                Status::Unset => SpanStatus::Unset,
                Status::Ok => SpanStatus::Ok,
                Status::Error { description } => SpanStatus::Error(description.to_string()),
            },
            sampled: data.span_context.is_sampled(),
            attributes: data
                .attributes
                .iter()
                .map(|kv| (kv.key.to_string(), kv.value.clone()))
                .collect(),
            events: data
                .events
                .iter()
                .map(|e| FinishedEvent {
                    name: e.name.to_string(),
                    attributes: e
                        .attributes
                        .iter()
                        .map(|kv| (kv.key.to_string(), kv.value.clone()))
                        .collect(),
                })
                .collect(),
            links: data
                .links
                .iter()
                .map(|link| FinishedLink {
                    trace_id: xray_trace_id(link.span_context.trace_id()),
                    span_id: link.span_context.span_id().to_string(),
                    attributes: link
                        .attributes
                        .iter()
                        .map(|kv| (kv.key.to_string(), kv.value.clone()))
                        .collect(),
                })
                .collect(),
            start_time: data.start_time,
            end_time: data.end_time,
        }
    }

    /// The attribute `key` (the last one, if recorded more than once).
    pub fn attr(&self, key: &str) -> Option<&Value> {
        self.attributes
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// The attribute `key` as a string, if it is one.
    pub fn attr_str(&self, key: &str) -> Option<&str> {
        match self.attr(key)? {
            Value::String(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// The attribute `key` as an integer, if it is one.
    pub fn attr_i64(&self, key: &str) -> Option<i64> {
        match self.attr(key)? {
            Value::I64(i) => Some(*i),
            _ => None,
        }
    }

    /// The attribute `key` as a float, if it is one.
    pub fn attr_f64(&self, key: &str) -> Option<f64> {
        match self.attr(key)? {
            Value::F64(f) => Some(*f),
            _ => None,
        }
    }

    /// The attribute `key` as a boolean, if it is one.
    pub fn attr_bool(&self, key: &str) -> Option<bool> {
        match self.attr(key)? {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The attribute `key` as a list of strings, if it is one.
    pub fn attr_strings(&self, key: &str) -> Option<Vec<String>> {
        match self.attr(key)? {
            Value::Array(Array::String(items)) => {
                Some(items.iter().map(|s| s.to_string()).collect())
            }
            _ => None,
        }
    }

    /// The keys listed as X-Ray annotations.
    pub fn annotation_keys(&self) -> Vec<String> {
        self.attr_strings(ANNOTATIONS_KEY).unwrap_or_default()
    }

    /// The first event named `name`.
    pub fn event(&self, name: &str) -> Option<&FinishedEvent> {
        self.events.iter().find(|e| e.name == name)
    }

    /// Asserts that this span is a direct child of `parent`: same trace, and
    /// `parent` as its parent span.
    ///
    /// # Panics
    /// When it is not, with both spans' names and ids in the message.
    #[track_caller]
    pub fn assert_child_of(&self, parent: &FinishedSpan) {
        assert!(
            self.trace_id == parent.trace_id
                && self.parent_span_id.as_deref() == Some(parent.span_id.as_str()),
            "{} (trace {}, parent {:?}) should be a child of {} (trace {}, span {})",
            self.name,
            self.trace_id,
            self.parent_span_id,
            parent.name,
            parent.trace_id,
            parent.span_id,
        );
    }

    /// Whether the span has no parent.
    pub fn is_root(&self) -> bool {
        self.parent_span_id.is_none()
    }

    /// How long the span lasted.
    pub fn duration(&self) -> Duration {
        self.end_time
            .duration_since(self.start_time)
            .unwrap_or_default()
    }
}
