//! HTTP request durations, as the semantic conventions name them:
//! `http.server.request.duration` (requests `XrayLayer` serves) and
//! `http.client.request.duration` (requests traced clients send), with
//! their low-cardinality attributes.

use std::borrow::Cow;
use std::sync::atomic::Ordering;

use opentelemetry::KeyValue;
use opentelemetry::trace::SpanContext;

use super::histogram::Context;
use super::instruments::{HTTP_CLIENT, HTTP_SERVER, Instrument};
use super::switch::ON;
use crate::clock;

/// `error.type` of a request whose future was dropped before its response.
const CANCELLED: &str = "cancelled";
/// `error.type` of a request whose handling panicked.
const PANICKED: &str = "panic";

/// Which side of the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "tower"), allow(dead_code))]
pub(crate) enum Side {
    Server,
    Client,
}

impl Side {
    fn instrument(self) -> &'static Instrument {
        match self {
            Self::Server => &HTTP_SERVER,
            Self::Client => &HTTP_CLIENT,
        }
    }
}

/// One request being measured; records its duration when dropped, with
/// the status code or error it was given (a request dropped with neither
/// was cancelled, or panicked).
#[derive(Debug)]
pub(crate) struct RequestMeter {
    side: Side,
    start: u64,
    attributes: Vec<KeyValue>,
    status: Option<u16>,
    error_type: Option<Cow<'static, str>>,
    span: Option<Context>,
}

impl RequestMeter {
    /// Starts measuring a request with `attributes` (method, scheme, route
    /// or server address, ...), made in the span `span` gives; `None` when
    /// metrics are off (then neither closure runs: one relaxed load is all
    /// an unmetered request pays).
    pub(crate) fn start(
        side: Side,
        attributes: impl FnOnce() -> Vec<KeyValue>,
        span: impl FnOnce() -> SpanContext,
    ) -> Option<Self> {
        if !ON.load(Ordering::Relaxed) {
            return None;
        }
        let span = span();
        Some(Self {
            side,
            start: clock::ticks(),
            attributes: attributes(),
            status: None,
            error_type: None,
            span: span.is_valid().then(|| Context {
                trace_id: u128::from_be_bytes(span.trace_id().to_bytes()),
                span_id: u64::from_be_bytes(span.span_id().to_bytes()),
                sampled: span.is_sampled(),
            }),
        })
    }

    /// The response's status code; an error status also sets `error.type`
    /// (5xx for a server, 4xx and 5xx for a client).
    pub(crate) fn status(&mut self, status: u16) {
        self.status = Some(status);
        let error = match self.side {
            Side::Server => status >= 500,
            Side::Client => status >= 400,
        };
        if error {
            self.error_type = Some(status.to_string().into());
        }
    }

    /// The request failed without a response: `error.type` is the error's type.
    pub(crate) fn error(&mut self, error_type: &'static str) {
        self.error_type = Some(error_type.into());
    }
}

impl Drop for RequestMeter {
    fn drop(&mut self) {
        let end = clock::ticks();
        let mut attributes = std::mem::take(&mut self.attributes);
        if let Some(status) = self.status {
            attributes.push(KeyValue::new(
                "http.response.status_code",
                i64::from(status),
            ));
        }
        let error_type = self.error_type.take().or_else(|| {
            self.status
                .is_none()
                .then_some(Cow::Borrowed(if std::thread::panicking() {
                    PANICKED
                } else {
                    CANCELLED
                }))
        });
        if let Some(error_type) = error_type {
            attributes.push(KeyValue::new("error.type", error_type));
        }
        self.side.instrument().series(attributes).record(
            end.saturating_sub(self.start),
            end,
            self.span,
        );
    }
}
