//! What `XrayInterceptor` adds to an AWS SDK call: the same DynamoDB
//! `GetItem`, with and without the interceptor, with tracing installed and
//! every trace sampled (spans recorded and queued for an exporter that
//! drops them), against
//!
//! * `local_endpoint`: an HTTP server on 127.0.0.1 (in this process,
//!   keep-alive) answering a canned `GetItem`;
//! * `in_memory`: an HTTP client that answers without a socket, so that
//!   the difference is the interceptor's CPU and little else.
//!
//! `traced` adds the interceptor as `aws_client!` does
//! (`push_interceptor(XrayInterceptor::shared())`), `traced_interceptor`
//! with `.interceptor(XrayInterceptor::new())`; `empty_interceptor` is the
//! same call with an interceptor that does nothing: what the SDK itself
//! spends on having one.
//!
//! `cargo bench -p xray-aws-tests --bench interceptor`
//!
//! Wall-clock times on a shared machine drift by more than the difference
//! measured; instruction counts do not. With `INTERCEPTOR_PROBE=<variant>:<n>`
//! (`plain`, `empty_interceptor`, `traced` or `traced_interceptor`) the binary makes `n` in-memory
//! calls and exits, for `perf stat -e instructions:u`: the difference of two
//! counts (`n` and `2n` calls) divided by `n` is the cost per call.

use std::hint::black_box;
use std::time::Duration;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use criterion::{Criterion, criterion_group};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use xray_runtime::aws::XrayInterceptor;
use xray_runtime::{Config, ExporterKind};

const ITEM: &str = r#"{"Item":{"id":{"S":"7"},"total":{"N":"1350"}}}"#;

/// Answers every request with the canned item, without a socket.
#[derive(Clone, Debug)]
struct Canned;

impl HttpConnector for Canned {
    fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
        let mut response =
            HttpResponse::new(StatusCode::try_from(200).expect("200"), SdkBody::from(ITEM));
        response.headers_mut().insert(
            "x-amzn-requestid",
            "BENCH0000000000000000000000000000000000000000000",
        );
        response
            .headers_mut()
            .insert("content-type", "application/x-amz-json-1.0");
        HttpConnectorFuture::ready(Ok(response))
    }
}

impl HttpClient for Canned {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

/// An HTTP/1.1 server on 127.0.0.1 answering every request with the item.
fn local_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let address = listener.local_addr().expect("an address");
    listener.set_nonblocking(true).expect("non-blocking");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("a listener");
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(async move {
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\nx-amzn-RequestId: BENCH\r\nContent-Length: {}\r\n\r\n{ITEM}",
                        ITEM.len()
                    );
                    let mut buffer = Vec::with_capacity(4096);
                    let mut chunk = [0u8; 4096];
                    loop {
                        // One request: its head, then Content-Length bytes.
                        let request_end = loop {
                            if let Some(end) = request_end(&buffer) {
                                break end;
                            }
                            match stream.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                            }
                        };
                        buffer.drain(..request_end);
                        if stream.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
    });
    format!("http://{address}")
}

/// Where the first complete request in `buffer` ends.
fn request_end(buffer: &[u8]) -> Option<usize> {
    let head_end = buffer.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buffer[..head_end]).ok()?;
    let length = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    (buffer.len() >= head_end + length).then_some(head_end + length)
}

/// An interceptor that does nothing: what the SDK spends on any interceptor.
#[derive(Debug)]
struct Empty;

impl Intercept for Empty {
    fn name(&self) -> &'static str {
        "Empty"
    }
}

/// What the client is given.
#[derive(Clone, Copy)]
enum Variant {
    Plain,
    Empty,
    /// With `push_interceptor(XrayInterceptor::shared())`, as `aws_client!`.
    Traced,
    /// With `.interceptor(XrayInterceptor::new())`.
    TracedDisableable,
}

fn client(http: SharedHttpClient, endpoint: &str, variant: Variant) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-west-2"))
        .credentials_provider(Credentials::new("bench", "bench", None, None, "bench"))
        .endpoint_url(endpoint)
        .http_client(http);
    let config = match variant {
        Variant::Plain => config,
        Variant::Empty => config.interceptor(Empty),
        Variant::Traced => {
            let mut config = config;
            config.push_interceptor(XrayInterceptor::shared());
            config
        }
        Variant::TracedDisableable => config.interceptor(XrayInterceptor::new()),
    };
    aws_sdk_dynamodb::Client::from_conf(config.build())
}

fn get_item(runtime: &tokio::runtime::Runtime, client: &aws_sdk_dynamodb::Client) {
    let output = runtime.block_on(
        client
            .get_item()
            .table_name("orders")
            .key("id", AttributeValue::S("7".into()))
            .send(),
    );
    black_box(output.expect("GetItem"));
}

const VARIANTS: [(Variant, &str); 4] = [
    (Variant::Plain, "plain"),
    (Variant::Empty, "empty_interceptor"),
    (Variant::Traced, "traced"),
    (Variant::TracedDisableable, "traced_interceptor"),
];

/// Tracing installed, every trace sampled, spans queued then dropped.
fn install() -> xray_runtime::Guard {
    xray_runtime::init(
        Config::new()
            .service_name("bench")
            .exporter(ExporterKind::None)
            .resource_detectors("none"),
    )
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// `INTERCEPTOR_PROBE=<variant>:<n>`: `n` in-memory calls, then exit.
fn probe(spec: &str) {
    let (name, count) = spec.split_once(':').expect("<variant>:<n>");
    let count: u64 = count.parse().expect("a number of calls");
    let variant = VARIANTS
        .iter()
        .find(|(_, label)| *label == name)
        .map(|(variant, _)| *variant)
        .expect("plain, empty_interceptor, traced or traced_interceptor");
    let _guard = install();
    let runtime = current_thread();
    let client = client(
        SharedHttpClient::new(Canned),
        "http://dynamodb.bench",
        variant,
    );
    for _ in 0..count {
        get_item(&runtime, &client);
    }
}

fn interceptor(c: &mut Criterion) {
    let _guard = install();
    let runtime = current_thread();
    let socket = {
        let _enter = runtime.enter();
        aws_smithy_http_client::Builder::new().build_http()
    };
    let endpoint = local_endpoint();
    let in_memory = SharedHttpClient::new(Canned);
    for (name, http, endpoint) in [
        ("local_endpoint", socket, endpoint.as_str()),
        ("in_memory", in_memory, "http://dynamodb.bench"),
    ] {
        let mut group = c.benchmark_group(format!("dynamodb_get_item/{name}"));
        group.measurement_time(Duration::from_secs(5));
        for (variant, label) in VARIANTS {
            let client = client(http.clone(), endpoint, variant);
            get_item(&runtime, &client);
            group.bench_function(label, |b| b.iter(|| get_item(&runtime, &client)));
        }
        group.finish();
    }
}

criterion_group!(benches, interceptor);

fn main() {
    if let Ok(spec) = std::env::var("INTERCEPTOR_PROBE") {
        probe(&spec);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
