//! HTTP integrations: trace incoming requests (a `tower` layer for axum,
//! hyper and tonic) and outgoing ones (any `http::Request`, and reqwest).
//!
//! * Server side, feature `tower`: `XrayLayer` continues the caller's trace
//!   from `X-Amzn-Trace-Id` (and W3C `traceparent` when that propagator is
//!   on), runs each request in a SERVER span named `{METHOD} {route}`, records
//!   the HTTP semantic-convention attributes, marks 5xx responses as errors
//!   and answers with an `X-Amzn-Trace-Id` header as the X-Ray SDKs do.
//!   Feature `axum` names spans after axum's matched route.
//! * Client side: [`start_client_span`] starts a CLIENT span for any
//!   `http::Request` and injects its context into the request's headers;
//!   with feature `reqwest`, `RequestBuilderExt::send_traced` does it all for
//!   a reqwest request.
//!
//! What is injected is what the configured propagators write (see
//! `OTEL_PROPAGATORS`): with the default `xray,tracecontext`, the canonical
//! `X-Amzn-Trace-Id: Root=...;Parent=...;Sampled=0|1` (plus the `Lineage` of
//! the trace, when one came in) and a W3C `traceparent`. The ADOT SDKs'
//! propagators (Java, Python, JavaScript) all accept it.
//!
//! `#[xray_root(headers = ...)]` remains the way to do the server side by
//! hand, and `#[xray_root(lambda)]` the way to trace an AWS Lambda
//! invocation: it continues the trace in `_X_AMZN_TRACE_ID` and flushes when
//! the invocation ends; client spans made during the invocation carry its
//! `Lineage` on.
//!
//! ```
//! use xray_runtime::http::start_client_span;
//! use xray_runtime::{Span, SpanKind};
//!
//! let capture = xray_runtime::testing::capture();
//! let mut root = Span::root("job", SpanKind::Server, &xray_runtime::Context::new());
//! let mut request = http::Request::get("http://inventory.internal/stock/7")
//!     .body(())
//!     .unwrap();
//! let mut client = root.in_scope(|| start_client_span(&mut request));
//! // ... send `request` with any client, then:
//! client.record_status(http::StatusCode::OK);
//! drop(client);
//! drop(root);
//!
//! let header = request.headers()["x-amzn-trace-id"].to_str().unwrap();
//! let span = capture.span("GET inventory.internal");
//! assert!(header.starts_with(&format!("Root={};Parent={}", span.trace_id, span.span_id)));
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll, ready};

use ::http::{HeaderMap, Method, header};
use pin_project_lite::pin_project;

use crate::record::CANCELLED_KEY;
use crate::span::Span;

mod client;
#[cfg(feature = "tower")]
mod server;

#[cfg(feature = "reqwest")]
pub use client::RequestBuilderExt;
pub use client::{ClientFuture, ClientSpan, ResponseStatus, start_client_span};
#[cfg(feature = "axum")]
pub use server::axum_route;
#[cfg(feature = "tower")]
pub use server::{ResponseFuture, RouteFn, XrayLayer, XrayService, no_route};

/// Attribute keys of the HTTP semantic conventions.
mod attr {
    pub const METHOD: &str = "http.request.method";
    pub const METHOD_ORIGINAL: &str = "http.request.method_original";
    #[cfg(feature = "tower")]
    pub const ROUTE: &str = "http.route";
    pub const STATUS_CODE: &str = "http.response.status_code";
    pub const URL_FULL: &str = "url.full";
    pub const URL_PATH: &str = "url.path";
    pub const URL_SCHEME: &str = "url.scheme";
    pub const SERVER_ADDRESS: &str = "server.address";
    pub const SERVER_PORT: &str = "server.port";
    pub const USER_AGENT: &str = "user_agent.original";
    #[cfg(feature = "tower")]
    pub const PROTOCOL_VERSION: &str = "network.protocol.version";
    pub const ERROR_TYPE: &str = "error.type";
}

/// The method as the semantic conventions record it: one of the methods of
/// RFC 9110 (and PATCH), else `None` (recorded as `_OTHER`).
fn known_method(method: &Method) -> Option<&'static str> {
    Some(match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => return None,
    })
}

/// Records `http.request.method` (and the original of an unknown method);
/// returns the method's part of the span name (`HTTP` for unknown methods).
fn record_method(span: &mut Span, method: &Method) -> &'static str {
    match known_method(method) {
        Some(name) => {
            span.set_attribute(attr::METHOD, name);
            name
        }
        None => {
            span.set_attribute(attr::METHOD, "_OTHER");
            span.set_attribute(attr::METHOD_ORIGINAL, method.as_str());
            "HTTP"
        }
    }
}

/// An IPv6 host without its brackets, as `server.address` wants it.
fn unbracket(host: &str) -> String {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
        .to_owned()
}

/// A header's value when it is visible ASCII.
fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// What a [`SpanFuture`] does with its future's output, the span current,
/// just before the span ends.
pub(crate) trait OnOutput<T> {
    fn on_output(self, span: &mut Span, output: &mut T);
}

pin_project! {
    /// A future run inside a span: current during every poll, ended when the
    /// future completes (after the hook has seen the output) and marked
    /// cancelled when the future is dropped before that.
    pub(crate) struct SpanFuture<F, H> {
        #[pin]
        future: F,
        span: Option<Span>,
        hook: Option<H>,
    }

    impl<F, H> PinnedDrop for SpanFuture<F, H> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(mut span) = this.span.take() {
                // A panic is recorded by the span itself as it drops.
                if !std::thread::panicking() {
                    span.set_attribute(CANCELLED_KEY, true);
                }
            }
        }
    }
}

impl<F, H> SpanFuture<F, H> {
    pub(crate) fn new(span: Span, future: F, hook: H) -> Self {
        Self {
            future,
            span: Some(span),
            hook: Some(hook),
        }
    }
}

impl<F, H> Future for SpanFuture<F, H>
where
    F: Future,
    H: OnOutput<F::Output>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let Some(span) = this.span.as_mut() else {
            return this.future.poll(task);
        };
        let future = this.future;
        let mut output = ready!(span.in_scope(|| future.poll(task)));
        if let Some(hook) = this.hook.take() {
            hook.on_output(span, &mut output);
        }
        // Ends the span now, not when the caller drops this future.
        drop(this.span.take());
        Poll::Ready(output)
    }
}

impl<F: std::fmt::Debug, H> std::fmt::Debug for SpanFuture<F, H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanFuture")
            .field("future", &self.future)
            .field("span", &self.span)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_are_other() {
        assert_eq!(known_method(&Method::GET), Some("GET"));
        let custom = Method::from_bytes(b"BREW").unwrap();
        assert_eq!(known_method(&custom), None);
    }
}
