//! The client side: a CLIENT span per outgoing request, its context injected
//! into the request's headers.

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use ::http::{HeaderMap, Method, StatusCode, header};
use opentelemetry::KeyValue;
use opentelemetry::global;
use opentelemetry::trace::{SpanContext, SpanKind};
use pin_project_lite::pin_project;

use super::{OnOutput, SpanFuture, attr, header_str, known_method, record_method, unbracket};
use crate::metrics::http::{RequestMeter, Side};
use crate::propagation::HeaderInjector;
use crate::span::{Span, current_context};
use crate::value::truncate;

/// What the span records about an outgoing request.
struct Target<'a> {
    method: &'a Method,
    scheme: Option<&'a str>,
    /// The host as written in a URL (IPv6 in brackets).
    host: Option<&'a str>,
    /// The port written in the URL, if any.
    explicit_port: Option<u16>,
    path: &'a str,
    user_agent: Option<&'a str>,
}

impl Target<'_> {
    /// `{METHOD} {host[:port]}`: the method, and where the request goes as
    /// the URL names it (low cardinality, unlike the path).
    fn span_name(&self) -> String {
        let label = known_method(self.method).unwrap_or("HTTP");
        match (self.host, self.explicit_port) {
            (Some(host), Some(port)) => format!("{label} {host}:{port}"),
            (Some(host), None) => format!("{label} {host}"),
            (None, _) => label.to_owned(),
        }
    }

    fn port(&self) -> Option<u16> {
        self.explicit_port.or(match self.scheme {
            Some("http") => Some(80),
            Some("https") => Some(443),
            _ => None,
        })
    }

    /// The attributes of `http.client.request.duration` known before the
    /// response: low cardinality (no path).
    fn metric_attributes(&self) -> Vec<KeyValue> {
        let mut attributes = vec![KeyValue::new(
            attr::METHOD,
            known_method(self.method).unwrap_or("_OTHER"),
        )];
        if let Some(host) = self.host {
            attributes.push(KeyValue::new(attr::SERVER_ADDRESS, unbracket(host)));
            if let Some(port) = self.port() {
                attributes.push(KeyValue::new(attr::SERVER_PORT, i64::from(port)));
            }
        }
        if let Some(scheme) = self.scheme {
            attributes.push(KeyValue::new(attr::URL_SCHEME, scheme.to_owned()));
        }
        attributes
    }

    fn record(&self, span: &mut Span) {
        record_method(span, self.method);
        span.set_attribute(attr::URL_PATH, self.path);
        if let Some(scheme) = self.scheme {
            span.set_attribute(attr::URL_SCHEME, scheme);
        }
        if let Some(host) = self.host {
            span.set_attribute(attr::SERVER_ADDRESS, unbracket(host));
            if let Some(port) = self.port() {
                span.set_attribute(attr::SERVER_PORT, port);
            }
            if let Some(scheme) = self.scheme {
                // Without user info or query string: both may hold secrets.
                let port = self
                    .explicit_port
                    .map(|port| format!(":{port}"))
                    .unwrap_or_default();
                span.set_attribute(
                    attr::URL_FULL,
                    format!("{scheme}://{host}{port}{}", self.path),
                );
            }
        }
        if let Some(agent) = self.user_agent {
            span.set_attribute(attr::USER_AGENT, agent);
        }
    }
}

/// The CLIENT span of one outgoing request; see [`start_client_span`].
///
/// It ends when dropped, or when the future given to
/// [`ClientSpan::instrument`] completes.
///
/// ```
/// use xray_runtime::http::{ClientSpan, start_client_span};
///
/// let capture = xray_runtime::testing::capture();
/// let mut request = http::Request::delete("http://cache.internal/keys/7").body(()).unwrap();
/// let span: ClientSpan = start_client_span(&mut request);
/// drop(span); // ends it
/// assert_eq!(capture.span("DELETE cache.internal").attr_str("url.path"), Some("/keys/7"));
/// ```
#[derive(Debug)]
pub struct ClientSpan {
    span: Span,
    /// Measures `http.client.request.duration`, when metrics are on.
    meter: Option<RequestMeter>,
}

impl ClientSpan {
    /// The span for `target`, its attributes recorded.
    fn begin(target: &Target<'_>) -> Self {
        let mut span = Span::child(target.span_name(), SpanKind::Client);
        if span.is_recording() {
            target.record(&mut span);
        }
        let meter = RequestMeter::start(
            Side::Client,
            || target.metric_attributes(),
            || span.span_context(),
        );
        Self { span, meter }
    }

    /// Injects the span's context into `headers` through the configured
    /// propagators.
    fn inject(&mut self, headers: &mut HeaderMap) {
        if !self.span.span_context().is_valid() {
            return;
        }
        // With the span current, `current_context` carries the trace's
        // remote context (Lineage, baggage) along with the span.
        let cx = self.span.in_scope(current_context);
        global::get_text_map_propagator(|propagator| {
            propagator.inject_context(&cx, &mut HeaderInjector(headers));
        });
    }

    /// Records the response's status code; 4xx and 5xx mark the span failed
    /// (for a client, both mean the request did not succeed).
    ///
    /// ```
    /// let capture = xray_runtime::testing::capture();
    /// let mut request = http::Request::get("http://example.com/missing").body(()).unwrap();
    /// let mut span = xray_runtime::http::start_client_span(&mut request);
    /// span.record_status(http::StatusCode::NOT_FOUND);
    /// drop(span);
    ///
    /// let span = capture.span("GET example.com");
    /// assert_eq!(span.attr_i64("http.response.status_code"), Some(404));
    /// assert_eq!(span.attr_str("error.type"), Some("404"));
    /// ```
    pub fn record_status(&mut self, status: StatusCode) {
        record_status(&mut self.span, &mut self.meter, status);
    }

    /// Records a response (its status code, as [`ClientSpan::record_status`]).
    ///
    /// ```
    /// let capture = xray_runtime::testing::capture();
    /// let mut request = http::Request::get("http://example.com/").body(()).unwrap();
    /// let mut span = xray_runtime::http::start_client_span(&mut request);
    /// span.record_response(&http::Response::new(()));
    /// drop(span);
    /// assert_eq!(capture.span("GET example.com").attr_i64("http.response.status_code"), Some(200));
    /// ```
    pub fn record_response<R: ResponseStatus + ?Sized>(&mut self, response: &R) {
        self.record_status(response.response_status());
    }

    /// Marks the span failed by a transport error (no response): status
    /// Error with the error's message, `error.type` its type.
    ///
    /// ```
    /// let capture = xray_runtime::testing::capture();
    /// let mut request = http::Request::get("http://example.com/").body(()).unwrap();
    /// let mut span = xray_runtime::http::start_client_span(&mut request);
    /// span.record_error(&std::io::Error::other("connection refused"));
    /// drop(span);
    ///
    /// let span = capture.span("GET example.com");
    /// assert_eq!(
    ///     span.status,
    ///     xray_runtime::testing::SpanStatus::Error("connection refused".into())
    /// );
    /// ```
    pub fn record_error<E: Display + ?Sized>(&mut self, error: &E) {
        record_error(&mut self.span, &mut self.meter, error);
    }

    /// The span's context (what was injected into the request).
    ///
    /// ```
    /// let mut request = http::Request::get("http://example.com/").body(()).unwrap();
    /// let span = xray_runtime::http::start_client_span(&mut request);
    /// // No provider installed: nothing is traced, nothing injected.
    /// assert!(!span.span_context().is_valid());
    /// assert!(request.headers().is_empty());
    /// ```
    pub fn span_context(&self) -> SpanContext {
        self.span.span_context()
    }

    /// Runs `future` (sending the request) with this span current, records
    /// its outcome (status code, or transport error) and ends the span when
    /// it completes.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let capture = xray_runtime::testing::capture();
    /// let mut request = http::Request::post("https://payments.internal:8443/charge")
    ///     .body(())
    ///     .unwrap();
    /// let span = xray_runtime::http::start_client_span(&mut request);
    /// // Stands for any client's `send(request)`.
    /// let send = async { Ok::<_, std::io::Error>(http::Response::new("charged")) };
    /// let response = span.instrument(send).await.unwrap();
    /// assert_eq!(response.into_body(), "charged");
    ///
    /// let span = capture.span("POST payments.internal:8443");
    /// assert_eq!(span.attr_str("url.full"), Some("https://payments.internal:8443/charge"));
    /// assert_eq!(span.attr_i64("http.response.status_code"), Some(200));
    /// # }
    /// ```
    pub fn instrument<F, T, E>(self, future: F) -> ClientFuture<F>
    where
        F: Future<Output = Result<T, E>>,
        T: ResponseStatus,
        E: Display,
    {
        ClientFuture {
            inner: SpanFuture::new(self.span, future, ClientHook { meter: self.meter }),
        }
    }
}

/// Starts a CLIENT span for `request`, a child of the current span (or a new
/// trace outside any), records the HTTP attributes (`http.request.method`,
/// `url.full`, `url.path`, `url.scheme`, `server.address`, `server.port`,
/// `user_agent.original`) and injects the span's context into the request's
/// headers through the configured propagators: by default the canonical
/// `X-Amzn-Trace-Id: Root=...;Parent=...;Sampled=0|1` (with the trace's
/// `Lineage`, if it came with one) and a W3C `traceparent`.
///
/// The span is named `{METHOD} {host}` (with `:{port}` when the URL has
/// one). Record the outcome with [`ClientSpan::record_status`] or
/// [`ClientSpan::record_error`], or hand the send future to
/// [`ClientSpan::instrument`]. Nothing is injected when tracing is off.
///
/// ```
/// use xray_runtime::traced;
///
/// #[traced]
/// fn call_inventory() -> http::Request<()> {
///     let mut request = http::Request::get("http://inventory.internal/stock/7")
///         .body(())
///         .unwrap();
///     let _span = xray_runtime::http::start_client_span(&mut request);
///     request // sent here with any client
/// }
///
/// let capture = xray_runtime::testing::capture();
/// let request = call_inventory();
/// let (parent, client) = (capture.span("call_inventory"), capture.span("GET inventory.internal"));
/// assert_eq!(client.parent_span_id, Some(parent.span_id));
/// assert_eq!(
///     request.headers()["x-amzn-trace-id"],
///     format!("Root={};Parent={};Sampled=1", client.trace_id, client.span_id).as_str()
/// );
/// ```
pub fn start_client_span<B>(request: &mut ::http::Request<B>) -> ClientSpan {
    let uri = request.uri();
    let host_header = header_str(request.headers(), header::HOST)
        .and_then(|host| host.parse::<::http::uri::Authority>().ok());
    let (host, explicit_port) = match (uri.authority(), &host_header) {
        (Some(authority), _) | (None, Some(authority)) => {
            (Some(authority.host()), authority.port_u16())
        }
        (None, None) => (None, None),
    };
    let mut span = ClientSpan::begin(&Target {
        method: request.method(),
        scheme: uri.scheme_str(),
        host,
        explicit_port,
        path: uri.path(),
        user_agent: header_str(request.headers(), header::USER_AGENT),
    });
    span.inject(request.headers_mut());
    span
}

/// Records a response's status code on a client span (and its meter).
fn record_status(span: &mut Span, meter: &mut Option<RequestMeter>, status: StatusCode) {
    if let Some(meter) = meter {
        meter.status(status.as_u16());
    }
    span.set_attribute(attr::STATUS_CODE, status.as_u16());
    if status.is_client_error() || status.is_server_error() {
        span.set_attribute(attr::ERROR_TYPE, status.as_str());
        span.set_error(status.to_string());
    }
}

/// Records a transport error on a client span (and its meter).
fn record_error<E: Display + ?Sized>(span: &mut Span, meter: &mut Option<RequestMeter>, error: &E) {
    if let Some(meter) = meter {
        meter.error(std::any::type_name::<E>());
    }
    span.set_attribute(attr::ERROR_TYPE, std::any::type_name::<E>());
    span.set_error(truncate(error.to_string()));
}

/// A response whose status code a [`ClientSpan`] can record.
///
/// ```
/// use xray_runtime::http::ResponseStatus;
///
/// let response = http::Response::builder().status(503).body(()).unwrap();
/// assert_eq!(response.response_status(), http::StatusCode::SERVICE_UNAVAILABLE);
/// ```
pub trait ResponseStatus {
    /// The status code.
    ///
    /// ```
    /// use xray_runtime::http::ResponseStatus;
    ///
    /// assert_eq!(http::StatusCode::IM_A_TEAPOT.response_status().as_u16(), 418);
    /// ```
    fn response_status(&self) -> StatusCode;
}

impl<B> ResponseStatus for ::http::Response<B> {
    fn response_status(&self) -> StatusCode {
        self.status()
    }
}

impl ResponseStatus for StatusCode {
    fn response_status(&self) -> StatusCode {
        *self
    }
}

#[cfg(feature = "reqwest")]
impl ResponseStatus for reqwest::Response {
    fn response_status(&self) -> StatusCode {
        self.status()
    }
}

/// Records the outcome of a request on its client span, and its duration
/// when metrics are on.
pub(crate) struct ClientHook {
    meter: Option<RequestMeter>,
}

impl<T: ResponseStatus, E: Display> OnOutput<Result<T, E>> for ClientHook {
    fn on_output(mut self, span: &mut Span, output: &mut Result<T, E>) {
        match output {
            Ok(response) => record_status(span, &mut self.meter, response.response_status()),
            Err(error) => record_error(span, &mut self.meter, error),
        }
    }
}

pin_project! {
    /// A request being sent inside its client span; see
    /// [`ClientSpan::instrument`].
    ///
    /// ```
    /// use xray_runtime::http::{ClientFuture, start_client_span};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mut request = http::Request::get("http://example.com/").body(()).unwrap();
    /// let send = async { Ok::<_, std::io::Error>(http::StatusCode::NO_CONTENT) };
    /// let future: ClientFuture<_> = start_client_span(&mut request).instrument(send);
    /// assert_eq!(future.await.unwrap(), 204);
    /// # }
    /// ```
    #[must_use = "futures do nothing unless polled"]
    pub struct ClientFuture<F> {
        #[pin]
        inner: SpanFuture<F, ClientHook>,
    }
}

impl<F, T, E> Future for ClientFuture<F>
where
    F: Future<Output = Result<T, E>>,
    T: ResponseStatus,
    E: Display,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(task)
    }
}

impl<F> std::fmt::Debug for ClientFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientFuture").finish_non_exhaustive()
    }
}

/// Starts a CLIENT span for a reqwest request and injects its context; the
/// reqwest counterpart of [`start_client_span`].
#[cfg(feature = "reqwest")]
fn start_reqwest_span(request: &mut reqwest::Request) -> ClientSpan {
    let url = request.url();
    let mut span = ClientSpan::begin(&Target {
        method: request.method(),
        scheme: Some(url.scheme()),
        host: url.host_str(),
        explicit_port: url.port(),
        path: url.path(),
        user_agent: header_str(request.headers(), header::USER_AGENT),
    });
    span.inject(request.headers_mut());
    span
}

/// Traced sending for reqwest: one CLIENT span per request, its context
/// injected into the request's headers.
///
/// ```no_run
/// use xray_runtime::http::RequestBuilderExt;
/// use xray_runtime::traced;
///
/// #[traced]
/// async fn stock(client: &reqwest::Client, item: u64) -> reqwest::Result<String> {
///     client
///         .get(format!("http://warehouse.internal/stock/{item}"))
///         .send_traced()
///         .await?
///         .text()
///         .await
/// }
/// ```
#[cfg(feature = "reqwest")]
pub trait RequestBuilderExt: sealed::Sealed {
    /// Builds the request, starts its CLIENT span (a child of the current
    /// span, see [`start_client_span`]), injects the span's context and sends
    /// the request; the span ends with the response head, recording its
    /// status code (4xx and 5xx are failures) or the transport error.
    ///
    /// The span starts when this is called, so call it where the request is
    /// made (inside the traced function), even if the future is awaited
    /// elsewhere.
    ///
    /// ```no_run
    /// use xray_runtime::http::RequestBuilderExt;
    ///
    /// # async fn run() -> reqwest::Result<()> {
    /// let response = reqwest::Client::new()
    ///     .get("http://store.internal/orders/7")
    ///     .send_traced()
    ///     .await?;
    /// assert!(response.status().is_success());
    /// # Ok(())
    /// # }
    /// ```
    fn send_traced(self) -> impl Future<Output = reqwest::Result<reqwest::Response>> + Send;
}

#[cfg(feature = "reqwest")]
impl RequestBuilderExt for reqwest::RequestBuilder {
    fn send_traced(self) -> impl Future<Output = reqwest::Result<reqwest::Response>> + Send {
        let (client, request) = self.build_split();
        let traced = request.map(|mut request| {
            let span = start_reqwest_span(&mut request);
            span.instrument(client.execute(request))
        });
        async move { traced?.await }
    }
}

#[cfg(feature = "reqwest")]
mod sealed {
    pub trait Sealed {}
    impl Sealed for reqwest::RequestBuilder {}
}
