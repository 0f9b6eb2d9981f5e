//! `XrayLayer` beyond axum: under plain hyper (through `hyper_util`'s tower
//! adapter) and under tonic (`Server::builder().layer(..)`), over real
//! sockets; and a request abandoned before its response is marked cancelled.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tower_layer::Layer;
use tower_service::Service;
use xray_runtime::XrayLayer;
use xray_runtime::testing::{self, SpanStatus};
use xray_services_tests::XRAY;

const CALLER: &str = "Root=1-6a1b2c3d-abcdefabcdefabcdefabcdef;Parent=1234567890abcdef;Sampled=1";
const CALLER_TRACE: &str = "1-6a1b2c3d-abcdefabcdefabcdefabcdef";

/// A plain tower service: answers 503 with the trace id current while it runs.
#[derive(Clone)]
struct WhoAmI;

impl<B> Service<http::Request<B>> for WhoAmI {
    type Response = http::Response<String>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Request<B>) -> Self::Future {
        let trace = xray_runtime::current_trace_id().unwrap_or_default();
        let mut response = http::Response::new(trace);
        *response.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
        ready(Ok(response))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_plain_hyper() {
    let capture = testing::capture();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("a connection");
        let service = TowerToHyperService::new(XrayLayer::new().layer(WhoAmI));
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service)
            .await;
    });

    let response = reqwest::Client::new()
        .get(format!("http://{addr}/status?x=1"))
        .header(XRAY, CALLER)
        .header("user-agent", "frameworks-test/1")
        .send()
        .await
        .expect("hyper answers");
    assert_eq!(response.status(), 503);
    assert_eq!(
        response.headers().get(XRAY).and_then(|v| v.to_str().ok()),
        Some(format!("Root={CALLER_TRACE}").as_str())
    );
    assert_eq!(
        response.text().await.ok().as_deref(),
        Some(CALLER_TRACE),
        "the span is current in call"
    );
    server.abort();

    let span = capture.span("GET /status");
    assert_eq!(span.trace_id, CALLER_TRACE);
    assert_eq!(span.parent_span_id.as_deref(), Some("1234567890abcdef"));
    assert_eq!(
        span.attr_str("user_agent.original"),
        Some("frameworks-test/1")
    );
    assert_eq!(span.attr_str("url.path"), Some("/status"));
    assert_eq!(span.attr_i64("server.port"), Some(i64::from(addr.port())));
    assert_eq!(span.attr_i64("http.response.status_code"), Some(503));
    assert_eq!(
        span.status,
        SpanStatus::Error("503 Service Unavailable".into())
    );
}

struct Receiver;

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        _: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        xray_runtime::set_attribute("handled.by", "receiver");
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_tonic() {
    let capture = testing::capture();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .layer(XrayLayer::new())
            .add_service(TraceServiceServer::new(Receiver))
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener),
                async move {
                    let _ = stopped.await;
                },
            ),
    );

    let mut client = TraceServiceClient::connect(format!("http://{addr}"))
        .await
        .expect("tonic listens");
    let mut request = tonic::Request::new(ExportTraceServiceRequest::default());
    request
        .metadata_mut()
        .insert(XRAY, CALLER.parse().expect("ASCII metadata"));
    let response = client.export(request).await.expect("the call succeeds");
    assert_eq!(
        response.metadata().get(XRAY).and_then(|v| v.to_str().ok()),
        Some(format!("Root={CALLER_TRACE}").as_str())
    );
    let _ = stop.send(());
    let _ = server.await;

    let name = "POST /opentelemetry.proto.collector.trace.v1.TraceService/Export";
    let span = capture.span(name);
    assert_eq!(span.trace_id, CALLER_TRACE);
    assert_eq!(span.parent_span_id.as_deref(), Some("1234567890abcdef"));
    assert_eq!(
        span.attr_str("handled.by"),
        Some("receiver"),
        "the handler runs in the span"
    );
    assert_eq!(span.attr_str("network.protocol.version"), Some("2"));
    assert_eq!(span.attr_i64("http.response.status_code"), Some(200));
}

/// Never answers.
#[derive(Clone)]
struct Hang;

impl Service<http::Request<()>> for Hang {
    type Response = http::Response<()>;
    type Error = Infallible;
    type Future = std::future::Pending<Result<http::Response<()>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Request<()>) -> Self::Future {
        std::future::pending()
    }
}

#[tokio::test]
async fn an_abandoned_request_is_marked_cancelled() {
    let capture = testing::capture();
    let mut service = XrayLayer::new().layer(Hang);
    let request = http::Request::get("/slow").body(()).expect("a request");
    let gave_up = tokio::time::timeout(Duration::from_millis(20), service.call(request)).await;
    assert!(gave_up.is_err());
    let span = capture.span("GET /slow");
    assert_eq!(span.attr_bool("xray.cancelled"), Some(true));
    assert_eq!(span.attr("http.response.status_code"), None);
}
