//! Adaptive sampling on the export thread. Traces that X-Ray's rules
//! sampled out are still recorded while adaptive sampling may capture them
//! ("held"): their spans wait here until their local root arrives, which
//! says how the trace ended. An anomaly within this second's capture limit
//! releases the whole trace for export; otherwise it is dropped, as a
//! sampled-out trace is. Roots of rules with a sampling boost report how
//! their traces ended (sampled or not) for X-Ray's boost statistics.
//!
//! Memory is bounded: at most [`MAX_HELD_SPANS`] spans wait (the oldest
//! trace gives way), none longer than [`HOLD_FOR`]. Spans that end after
//! their root (work the root did not wait for) follow the root's verdict,
//! remembered for [`VERDICT_FOR`].

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use opentelemetry::Value;
use opentelemetry::trace::Status;

use crate::clock::Converter;
use crate::record::Finished;
use crate::sampler::rules::{self, RootEnd};

/// Spans held at most, all traces together.
const MAX_HELD_SPANS: usize = 8192;
/// The longest a held trace waits for its root.
const HOLD_FOR: Duration = Duration::from_secs(60);
/// Verdicts remembered at most, and for how long.
const MAX_VERDICTS: usize = 4096;
const VERDICT_FOR: Duration = Duration::from_secs(30);

const STATUS_CODE: &str = "http.response.status_code";
const LOCAL_OPERATION: &str = "aws.local.operation";
const METHOD: &str = "http.request.method";
const PATH: &str = "url.path";

#[derive(Default)]
pub(super) struct Held {
    traces: HashMap<u128, Vec<Finished>>,
    /// Held traces by the time their first span arrived.
    arrival: VecDeque<(u128, Instant)>,
    spans: usize,
    verdicts: HashMap<u128, bool>,
    verdict_order: VecDeque<(u128, Instant)>,
}

impl Held {
    /// Files a drained span of this installation: into `export`, or held,
    /// or dropped (a held trace that was not captured).
    pub(super) fn file(&mut self, span: Finished, export: &mut VecDeque<Finished>) {
        if let Some(rule) = span.extra.as_ref().and_then(|extra| extra.deciding_rule) {
            let operation = operation(&span);
            let captured = rules::root_ended(rule, &root_end(&span, &operation));
            if span.held {
                self.decide(span.trace_id, captured, export);
                if captured {
                    export.push_back(span);
                }
            } else {
                export.push_back(span);
            }
            return;
        }
        if !span.held {
            export.push_back(span);
            return;
        }
        match self.verdicts.get(&span.trace_id) {
            Some(true) => export.push_back(span),
            Some(false) => {}
            None => self.hold(span),
        }
    }

    fn hold(&mut self, span: Finished) {
        while self.spans >= MAX_HELD_SPANS {
            if !self.drop_oldest() {
                break;
            }
        }
        let trace = self.traces.entry(span.trace_id).or_default();
        if trace.is_empty() {
            self.arrival.push_back((span.trace_id, Instant::now()));
        }
        trace.push(span);
        self.spans += 1;
    }

    /// Releases (`captured`) or drops the spans held for `trace_id`, and
    /// remembers the verdict for its spans still to come.
    fn decide(&mut self, trace_id: u128, captured: bool, export: &mut VecDeque<Finished>) {
        if let Some(spans) = self.traces.remove(&trace_id) {
            self.spans -= spans.len();
            if captured {
                export.extend(spans);
            }
        }
        if self.verdicts.len() >= MAX_VERDICTS
            && let Some((oldest, _)) = self.verdict_order.pop_front()
        {
            self.verdicts.remove(&oldest);
        }
        if self.verdicts.insert(trace_id, captured).is_none() {
            self.verdict_order.push_back((trace_id, Instant::now()));
        }
    }

    fn drop_oldest(&mut self) -> bool {
        while let Some((trace_id, _)) = self.arrival.pop_front() {
            if let Some(spans) = self.traces.remove(&trace_id) {
                self.spans -= spans.len();
                return true;
            }
        }
        false
    }

    /// Forgets traces and verdicts past their time.
    pub(super) fn expire(&mut self, now: Instant) {
        while let Some(&(trace_id, at)) = self.arrival.front() {
            if now.duration_since(at) < HOLD_FOR {
                break;
            }
            self.arrival.pop_front();
            if let Some(spans) = self.traces.remove(&trace_id) {
                self.spans -= spans.len();
            }
        }
        while let Some(&(trace_id, at)) = self.verdict_order.front() {
            if now.duration_since(at) < VERDICT_FOR {
                break;
            }
            self.verdict_order.pop_front();
            self.verdicts.remove(&trace_id);
        }
    }

    /// Spans waiting for their root.
    #[cfg(test)]
    pub(super) fn waiting(&self) -> usize {
        self.spans
    }
}

/// The value of attribute `key` of `span`.
fn attribute<'a>(span: &'a Finished, key: &str) -> Option<&'a Value> {
    span.extra.as_deref().and_then(|extra| {
        extra
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    })
}

fn text<'a>(span: &'a Finished, key: &str) -> Option<&'a str> {
    match attribute(span, key) {
        Some(Value::String(s)) => Some(s.as_str()),
        _ => None,
    }
}

/// What a root did, as adaptive sampling's `operations` name it:
/// `aws.local.operation`, else the request's method and first path
/// segment (as ADOT derives it), else, for work that is not a request, the
/// root's name.
fn operation(root: &Finished) -> String {
    match (text(root, LOCAL_OPERATION), text(root, PATH)) {
        (Some(operation), _) => operation.to_string(),
        (None, Some(path)) => {
            xray_sampling::adaptive::ingress_operation(text(root, METHOD).unwrap_or(""), path)
        }
        (None, None) => root
            .extra
            .as_deref()
            .and_then(|extra| extra.name.as_deref())
            .unwrap_or(root.spec.name)
            .to_string(),
    }
}

/// How a root ended, from its record.
fn root_end<'a>(root: &Finished, operation: &'a str) -> RootEnd<'a> {
    let converter = Converter::now();
    let start = converter.unix_nanos(root.start);
    let end = converter.unix_nanos(root.end);
    let status_code = match attribute(root, STATUS_CODE) {
        Some(Value::I64(code)) => u16::try_from(*code).ok(),
        _ => None,
    };
    RootEnd {
        sampled: !root.held,
        status_code,
        is_error: root
            .extra
            .as_deref()
            .is_some_and(|extra| matches!(extra.status, Status::Error { .. })),
        latency: Duration::from_nanos(end.saturating_sub(start)),
        operation,
        at: end / 1_000_000_000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::SpanSpec;

    static SPEC: SpanSpec = SpanSpec {
        name: "work",
        kind: opentelemetry::trace::SpanKind::Internal,
        flush: false,
    };

    fn held_span(trace_id: u128, span_id: u64) -> Finished {
        Finished {
            trace_id,
            span_id,
            parent_id: 1,
            parent_remote: false,
            generation: 0,
            spec: &SPEC,
            start: 0,
            end: 0,
            extra: None,
            trace_state: None,
            held: true,
        }
    }

    #[test]
    fn held_spans_are_bounded_the_oldest_trace_giving_way() {
        let mut held = Held::default();
        let mut export = VecDeque::new();
        // Traces of 100 spans each, never ended: far more than the bound.
        for trace in 0..500u128 {
            for span in 0..100 {
                held.file(held_span(trace + 1, span + 2), &mut export);
            }
        }
        assert!(held.waiting() <= MAX_HELD_SPANS);
        assert!(held.waiting() >= MAX_HELD_SPANS - 100);
        assert!(
            export.is_empty(),
            "nothing held is exported without its root"
        );
        // The newest traces are the ones kept.
        assert!(held.traces.contains_key(&500));
        assert!(!held.traces.contains_key(&1));
        // Their time passes: all are let go.
        held.expire(Instant::now() + HOLD_FOR);
        assert_eq!(held.waiting(), 0);
    }

    #[test]
    fn spans_ending_after_their_root_follow_its_verdict() {
        let mut held = Held::default();
        let mut export = VecDeque::new();
        held.decide(7, true, &mut export);
        held.decide(8, false, &mut export);
        held.file(held_span(7, 2), &mut export);
        held.file(held_span(8, 3), &mut export);
        assert_eq!(export.len(), 1);
        assert_eq!(export[0].trace_id, 7);
        assert_eq!(held.waiting(), 0);
    }
}
