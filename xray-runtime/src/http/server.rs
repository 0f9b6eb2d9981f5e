//! The server side: a `tower` layer that traces every request.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use ::http::{Extensions, HeaderMap, HeaderValue, Request, Response, Uri, Version, header};
use opentelemetry::global;
use opentelemetry::trace::SpanKind;
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::{OnOutput, SpanFuture, attr, header_str, known_method, record_method, unbracket};
use crate::metrics::http::{RequestMeter, Side};
use crate::propagation::{HeaderExtractor, IncomingXray, Sampling, XRAY_HEADER};
use crate::sampler::RootRequest;
use crate::span::Span;
use opentelemetry::{Context, KeyValue};

/// The longest request path put in a span name, in bytes (the `url.path`
/// attribute keeps up to [`MAX_VALUE_LEN`](crate::MAX_VALUE_LEN)).
const MAX_NAME_PATH_LEN: usize = 256;

/// `text` cut to at most `max` bytes at a character boundary.
fn clip(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The host and port a request is addressed to: the URI's authority when it
/// has one (absolute form, HTTP/2 `:authority`), else the `Host` header.
/// Values that are not a valid authority are ignored.
fn target_address(uri: &Uri, headers: &HeaderMap) -> Option<(String, Option<u16>)> {
    if let Some(authority) = uri.authority() {
        return Some((unbracket(authority.host()), authority.port_u16()));
    }
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let authority: ::http::uri::Authority = host.parse().ok()?;
    Some((unbracket(authority.host()), authority.port_u16()))
}

/// `network.protocol.version` of an HTTP version.
fn protocol_version(version: Version) -> Option<&'static str> {
    Some(match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_11 => "1.1",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => return None,
    })
}

/// How [`XrayLayer`] finds the route a request matched (`/orders/{id}`),
/// from the request's extensions; `None` names the span after the path.
///
/// A plain function pointer rather than a type parameter: the layer stays one
/// small `Copy` type that fits wherever a framework stores its layers, for
/// the price of one indirect call per request.
///
/// ```
/// use xray_runtime::http::{RouteFn, XrayLayer};
///
/// /// A route your own router stores in the request's extensions.
/// struct Route(&'static str);
///
/// fn my_route(extensions: &http::Extensions) -> Option<&str> {
///     extensions.get::<Route>().map(|route| route.0)
/// }
///
/// let route: RouteFn = my_route;
/// let layer = XrayLayer::new().route(route);
/// # let _ = layer;
/// ```
pub type RouteFn = for<'a> fn(&'a Extensions) -> Option<&'a str>;

/// No route known: spans are named after the request's path.
///
/// ```
/// assert_eq!(xray_runtime::http::no_route(&http::Extensions::new()), None);
/// ```
pub fn no_route(_extensions: &Extensions) -> Option<&str> {
    None
}

/// The route axum matched (`MatchedPath`), when the layer runs inside an axum
/// `Router` (added with `Router::layer`). The default route function when the
/// `axum` feature is on.
///
/// ```
/// use axum::Router;
/// use axum::routing::get;
/// use tower_service::Service;
/// use xray_runtime::http::XrayLayer;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let capture = xray_runtime::testing::capture();
/// let mut app: Router = Router::new()
///     .route("/orders/{id}", get(|| async { "order" }))
///     .layer(XrayLayer::new());
/// let request = http::Request::get("/orders/7").body(axum::body::Body::empty()).unwrap();
/// let response = app.call(request).await.unwrap();
/// assert_eq!(response.status(), 200);
///
/// let span = capture.span("GET /orders/{id}");
/// assert_eq!(span.attr_str("http.route"), Some("/orders/{id}"));
/// assert_eq!(span.attr_str("url.path"), Some("/orders/7"));
/// # }
/// ```
#[cfg(feature = "axum")]
pub fn axum_route(extensions: &Extensions) -> Option<&str> {
    extensions
        .get::<axum::extract::MatchedPath>()
        .map(axum::extract::MatchedPath::as_str)
}

#[cfg(feature = "axum")]
const DEFAULT_ROUTE: RouteFn = axum_route;
#[cfg(not(feature = "axum"))]
const DEFAULT_ROUTE: RouteFn = no_route;

/// A `tower` layer that traces each request in a SERVER span.
///
/// Per request it:
///
/// * continues the caller's trace from the headers, through the configured
///   propagators (`X-Amzn-Trace-Id`, and W3C `traceparent` when enabled; see
///   `OTEL_PROPAGATORS`), or starts a new trace; a malformed, oversized or
///   hostile header starts a new trace;
/// * runs the inner service, and polls its response future, with a span named
///   `{METHOD} {route}` current (the matched route where the [`RouteFn`]
///   finds one, else the path; `HTTP` for methods outside RFC 9110);
/// * records `http.request.method`, `url.path`, `url.scheme`,
///   `server.address`, `server.port`, `user_agent.original`,
///   `network.protocol.version`, `http.route` and
///   `http.response.status_code`; a 5xx response, or an error from the inner
///   service, marks the span failed (4xx does not: the client erred);
/// * answers with `X-Amzn-Trace-Id: Root=<trace id>`, plus `;Sampled=0|1`
///   when the request asked with `Sampled=?`, as the X-Ray SDKs do. Only the
///   trace id this service holds is written, never request input.
///
/// The span ends when the response head is ready (not when its body has been
/// streamed), or is marked `xray.cancelled` if the client goes away first.
/// Works with axum (`Router::layer`), hyper (through `hyper_util`'s tower
/// adapter) and tonic (`Server::builder().layer(..)`). With axum, add it
/// with `Router::layer` rather than around the router, so that the matched
/// route is known when the span starts (see `axum_route`, feature `axum`).
///
/// ```
/// use std::convert::Infallible;
/// use std::future::{Ready, ready};
/// use std::task::{Context, Poll};
///
/// use tower_layer::Layer;
/// use tower_service::Service;
/// use xray_runtime::http::XrayLayer;
///
/// /// A service answering every request with 200 OK.
/// #[derive(Clone)]
/// struct Hello;
///
/// impl Service<http::Request<()>> for Hello {
///     type Response = http::Response<&'static str>;
///     type Error = Infallible;
///     type Future = Ready<Result<Self::Response, Infallible>>;
///
///     fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
///         Poll::Ready(Ok(()))
///     }
///
///     fn call(&mut self, _: http::Request<()>) -> Self::Future {
///         ready(Ok(http::Response::new("hello")))
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let capture = xray_runtime::testing::capture();
/// let mut service = XrayLayer::new().layer(Hello);
/// let request = http::Request::get("/hello")
///     .header("x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
///     .body(())
///     .unwrap();
/// let response = service.call(request).await.unwrap();
///
/// let span = capture.span("GET /hello");
/// assert_eq!(span.trace_id, "1-5759e988-bd862e3fe1be46a994272793");
/// assert_eq!(span.parent_span_id.as_deref(), Some("53995c3f42cd8ad8"));
/// assert_eq!(span.attr_i64("http.response.status_code"), Some(200));
/// assert_eq!(
///     response.headers()["x-amzn-trace-id"],
///     "Root=1-5759e988-bd862e3fe1be46a994272793"
/// );
/// # }
/// ```
#[derive(Clone, Copy, Debug)]
pub struct XrayLayer {
    route: RouteFn,
}

impl XrayLayer {
    /// The layer, with the default [`RouteFn`]: `axum_route` with the
    /// `axum` feature, else [`no_route`].
    ///
    /// ```
    /// let layer = xray_runtime::http::XrayLayer::new();
    /// # let _ = layer;
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self {
            route: DEFAULT_ROUTE,
        }
    }

    /// Finds routes with `route` instead of the default.
    ///
    /// ```
    /// use xray_runtime::http::{XrayLayer, no_route};
    ///
    /// // Always name spans after the path.
    /// let layer = XrayLayer::new().route(no_route);
    /// # let _ = layer;
    /// ```
    #[must_use]
    pub fn route(mut self, route: RouteFn) -> Self {
        self.route = route;
        self
    }
}

impl Default for XrayLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Layer<S> for XrayLayer {
    type Service = XrayService<S>;

    fn layer(&self, inner: S) -> XrayService<S> {
        XrayService {
            inner,
            route: self.route,
        }
    }
}

/// The service [`XrayLayer`] wraps around yours; see there.
///
/// ```
/// use tower_layer::Layer;
/// use xray_runtime::http::{XrayLayer, XrayService};
///
/// #[derive(Clone)]
/// struct App;
///
/// let service: XrayService<App> = XrayLayer::new().layer(App);
/// let _app: &App = service.inner();
/// ```
#[derive(Clone, Debug)]
pub struct XrayService<S> {
    inner: S,
    route: RouteFn,
}

impl<S> XrayService<S> {
    /// The wrapped service.
    ///
    /// ```
    /// use tower_layer::Layer;
    ///
    /// let service = xray_runtime::http::XrayLayer::new().layer(7u8);
    /// assert_eq!(*service.inner(), 7);
    /// ```
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    ///
    /// ```
    /// use tower_layer::Layer;
    ///
    /// let mut service = xray_runtime::http::XrayLayer::new().layer(7u8);
    /// *service.inner_mut() += 1;
    /// assert_eq!(service.into_inner(), 8);
    /// ```
    pub fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the service.
    ///
    /// ```
    /// use tower_layer::Layer;
    ///
    /// let service = xray_runtime::http::XrayLayer::new().layer("app");
    /// assert_eq!(service.into_inner(), "app");
    /// ```
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for XrayService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, task: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(task)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let (mut span, requested) = server_span(&request, self.route);
        let meter = RequestMeter::start(
            Side::Server,
            || metric_attributes(&request, self.route),
            || span.span_context(),
        );
        let hook = ServerHook {
            response_header: response_header(&span, requested),
            meter,
        };
        let inner = &mut self.inner;
        let future = span.in_scope(|| inner.call(request));
        ResponseFuture {
            inner: SpanFuture::new(span, future, hook),
        }
    }
}

/// The caller's context, through the configured propagators. The base is an
/// empty context: an OpenTelemetry span current on this thread must not
/// become the parent of an unrelated request.
fn extract_parent(headers: &HeaderMap) -> Context {
    global::get_text_map_propagator(|propagator| {
        propagator.extract_with_context(&Context::new(), &HeaderExtractor(headers))
    })
}

/// The request's SERVER span, its request attributes recorded.
/// The request's span, and whether the caller asked this service to make
/// the sampling decision (`Sampled=?`).
fn server_span<B>(request: &Request<B>, route: RouteFn) -> (Span, bool) {
    let parent = extract_parent(request.headers());
    let requested = asked_for_decision(&parent);
    let route = route(request.extensions()).map(|route| clip(route, MAX_NAME_PATH_LEN));
    let path = request.uri().path();
    let label = known_method(request.method()).unwrap_or("HTTP");
    let name = format!(
        "{label} {}",
        route.unwrap_or_else(|| clip(path, MAX_NAME_PATH_LEN))
    );
    let target = target_address(request.uri(), request.headers());
    // What X-Ray's sampling rules match: the host, the method and the path.
    let about = RootRequest {
        host: target.as_ref().map_or("", |(host, _)| host.as_str()),
        http_method: request.method().as_str(),
        url_path: path,
        attributes: &[],
    };
    let mut span = Span::root_for(name, SpanKind::Server, &parent, &about);
    if !span.is_recording() {
        return (span, requested);
    }
    record_method(&mut span, request.method());
    span.set_attribute(attr::URL_PATH, path);
    span.set_attribute(
        attr::URL_SCHEME,
        request.uri().scheme_str().unwrap_or("http"),
    );
    if let Some((host, port)) = target {
        span.set_attribute(attr::SERVER_ADDRESS, host);
        if let Some(port) = port {
            span.set_attribute(attr::SERVER_PORT, port);
        }
    }
    if let Some(agent) = header_str(request.headers(), header::USER_AGENT) {
        span.set_attribute(attr::USER_AGENT, agent);
    }
    if let Some(version) = protocol_version(request.version()) {
        span.set_attribute(attr::PROTOCOL_VERSION, version);
    }
    if let Some(route) = route {
        span.set_attribute(attr::ROUTE, route);
    }
    (span, requested)
}

/// The attributes of `http.server.request.duration` known before the
/// response: the method, the scheme, the route (never the path: its
/// cardinality has no bound) and the protocol version.
fn metric_attributes<B>(request: &Request<B>, route: RouteFn) -> Vec<KeyValue> {
    let mut attributes = vec![
        KeyValue::new(
            attr::METHOD,
            known_method(request.method()).unwrap_or("_OTHER"),
        ),
        KeyValue::new(
            attr::URL_SCHEME,
            request.uri().scheme_str().unwrap_or("http").to_owned(),
        ),
    ];
    if let Some(route) = route(request.extensions()) {
        attributes.push(KeyValue::new(
            attr::ROUTE,
            clip(route, MAX_NAME_PATH_LEN).to_owned(),
        ));
    }
    if let Some(version) = protocol_version(request.version()) {
        attributes.push(KeyValue::new(attr::PROTOCOL_VERSION, version));
    }
    attributes
}

/// The `X-Amzn-Trace-Id` response header, as the X-Ray SDKs write it:
/// `Root=<trace id>`, plus `;Sampled=0|1` when the request deferred the
/// decision with `Sampled=?` (aws-xray-sdk-python's
/// `prepare_response_header`). `None` when tracing is off.
fn response_header(span: &Span, requested: bool) -> Option<HeaderValue> {
    let trace_id = span.trace_id()?;
    let value = if requested {
        // Sampled, not merely recorded (a trace held for adaptive sampling
        // is recorded, but the caller is told it was not sampled).
        let sampled = if span.span_context().is_sampled() {
            1
        } else {
            0
        };
        format!("Root={trace_id};Sampled={sampled}")
    } else {
        format!("Root={trace_id}")
    };
    HeaderValue::from_str(&value).ok()
}

/// Whether the caller's `X-Amzn-Trace-Id` (valid, as the propagator
/// extracted it) asked this service to decide: `Sampled=?`.
fn asked_for_decision(parent: &Context) -> bool {
    parent
        .get::<IncomingXray>()
        .is_some_and(|incoming| incoming.header.sampling == Sampling::Requested)
}

/// Records the response (or the failure) on the server span, and the
/// request's duration when metrics are on.
pub(crate) struct ServerHook {
    response_header: Option<HeaderValue>,
    meter: Option<RequestMeter>,
}

impl<B, E> OnOutput<Result<Response<B>, E>> for ServerHook {
    fn on_output(mut self, span: &mut Span, output: &mut Result<Response<B>, E>) {
        match output {
            Ok(response) => {
                let status = response.status();
                if let Some(meter) = &mut self.meter {
                    meter.status(status.as_u16());
                }
                span.set_attribute(attr::STATUS_CODE, status.as_u16());
                if status.is_server_error() {
                    span.set_attribute(attr::ERROR_TYPE, status.as_str());
                    span.set_error(status.to_string());
                }
                if let Some(value) = self.response_header {
                    response
                        .headers_mut()
                        .insert(header::HeaderName::from_static(XRAY_HEADER), value);
                }
            }
            Err(_) => {
                if let Some(meter) = &mut self.meter {
                    meter.error(std::any::type_name::<E>());
                }
                span.set_attribute(attr::ERROR_TYPE, std::any::type_name::<E>());
                span.set_error("the service failed to produce a response");
            }
        }
    }
}

pin_project! {
    /// The response future of [`XrayService`]: the inner service's, polled
    /// with the request's span current.
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use std::future::{Ready, ready};
    /// use std::task::{Context, Poll};
    ///
    /// use tower_layer::Layer;
    /// use tower_service::Service;
    /// use xray_runtime::http::{ResponseFuture, XrayLayer};
    ///
    /// #[derive(Clone)]
    /// struct NoContent;
    ///
    /// impl Service<http::Request<()>> for NoContent {
    ///     type Response = http::Response<()>;
    ///     type Error = Infallible;
    ///     type Future = Ready<Result<http::Response<()>, Infallible>>;
    ///
    ///     fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
    ///         Poll::Ready(Ok(()))
    ///     }
    ///
    ///     fn call(&mut self, _: http::Request<()>) -> Self::Future {
    ///         let mut response = http::Response::new(());
    ///         *response.status_mut() = http::StatusCode::NO_CONTENT;
    ///         ready(Ok(response))
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mut service = XrayLayer::new().layer(NoContent);
    /// let future: ResponseFuture<_> = service.call(http::Request::new(()));
    /// assert_eq!(future.await.unwrap().status(), 204);
    /// # }
    /// ```
    pub struct ResponseFuture<F> {
        #[pin]
        inner: SpanFuture<F, ServerHook>,
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(task)
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_header(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(XRAY_HEADER, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn clip_respects_char_boundaries() {
        assert_eq!(clip("abc", 5), "abc");
        assert_eq!(clip("abcdef", 3), "abc");
        assert_eq!(clip("aé", 2), "a");
        assert_eq!(clip("", 0), "");
    }

    #[test]
    fn target_address_prefers_the_uri() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "host.example:8080".parse().unwrap());
        let uri: Uri = "http://uri.example:81/x".parse().unwrap();
        assert_eq!(
            target_address(&uri, &headers),
            Some(("uri.example".to_owned(), Some(81)))
        );
        let uri: Uri = "/x".parse().unwrap();
        assert_eq!(
            target_address(&uri, &headers),
            Some(("host.example".to_owned(), Some(8080)))
        );
        headers.insert(header::HOST, "[::1]:9".parse().unwrap());
        assert_eq!(
            target_address(&uri, &headers),
            Some(("::1".to_owned(), Some(9)))
        );
        headers.insert(header::HOST, "bad host/".parse().unwrap());
        assert_eq!(target_address(&uri, &headers), None);
        headers.remove(header::HOST);
        assert_eq!(target_address(&uri, &headers), None);
    }

    #[test]
    fn only_a_valid_header_with_sampled_question_mark_asks() {
        use opentelemetry::propagation::TextMapPropagator;
        let asks = |value: Option<&str>| {
            let headers = value.map_or_else(HeaderMap::new, with_header);
            let parent =
                crate::propagation::XrayPropagator::new().extract(&HeaderExtractor(&headers));
            asked_for_decision(&parent)
        };
        let root = "Root=1-5759e988-bd862e3fe1be46a994272793";
        assert!(asks(Some(&format!(
            "{root};Parent=53995c3f42cd8ad8;Sampled=?"
        ))));
        assert!(asks(Some(&format!("{root}; sampled = ?"))));
        assert!(!asks(Some(root)));
        assert!(!asks(Some(&format!("{root};Sampled=1"))));
        assert!(!asks(Some("Root=1-zz;Sampled=?")));
        assert!(!asks(None));
    }
}
