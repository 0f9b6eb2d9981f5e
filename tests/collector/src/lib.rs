//! Harness for the collector end-to-end test.
//!
//! Two pieces run around a real OpenTelemetry collector (rotel):
//!
//! * [`Sink`] is an OTLP/gRPC receiver of traces, logs and metrics built on
//!   tonic and the official `opentelemetry-proto` types. It runs on its own
//!   tokio runtime thread, listens on `127.0.0.1:<os-chosen port>` and keeps
//!   every `ResourceSpans`, `ResourceLogs` and `ResourceMetrics` it
//!   receives, so a test can wait for them and inspect what arrived.
//! * [`Rotel`] starts the `rotel-agent` collector with OTLP gRPC and HTTP
//!   receivers on free loopback ports and an OTLP/gRPC exporter pointed at a
//!   [`Sink`]. Its output goes to a log file that is printed when a test fails.
//!
//! The collector binary is installed by `tests/collector/install-rotel.sh`
//! into `<target>/tools/rotel-agent`; `XRAY_ROTEL_BIN` overrides the path.

use std::collections::HashSet;
use std::fmt;
use std::fs::{self, File};
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::ResourceLogs;
use opentelemetry_proto::tonic::metrics::v1::ResourceMetrics;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, Span, span, status};

/// Re-export of the OTLP protobuf types the assertions work with.
pub use opentelemetry_proto::tonic as proto;

/// How long [`Sink::wait_for`] waits by default.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(20);

/// How long [`Rotel::start`] waits for the collector's ports to accept connections.
const ROTEL_READY_TIMEOUT: Duration = Duration::from_secs(20);

/// How often [`Rotel::start`] tries again with new ports if the collector exits
/// before it is ready (for example because another process took a port).
const ROTEL_START_ATTEMPTS: usize = 3;

// ---------------------------------------------------------------------------
// Sink
// ---------------------------------------------------------------------------

#[derive(Default)]
struct Received {
    resource_spans: Vec<ResourceSpans>,
    resource_logs: Vec<ResourceLogs>,
    resource_metrics: Vec<ResourceMetrics>,
    requests: usize,
    last_request: Option<Instant>,
}

#[derive(Default)]
struct Store {
    received: Mutex<Received>,
    changed: Condvar,
}

impl Store {
    fn lock(&self) -> MutexGuard<'_, Received> {
        // A poisoned lock only means a waiting thread panicked; the data is intact.
        self.received
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

struct Receiver {
    store: Arc<Store>,
}

impl Receiver {
    /// Keeps what `keep` takes from a request, and wakes the waiters.
    fn received(&self, keep: impl FnOnce(&mut Received)) {
        {
            let mut received = self.store.lock();
            received.requests += 1;
            received.last_request = Some(Instant::now());
            keep(&mut received);
        }
        self.store.changed.notify_all();
    }
}

#[tonic::async_trait]
impl LogsService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        let logs = request.into_inner().resource_logs;
        self.received(|received| received.resource_logs.extend(logs));
        Ok(tonic::Response::new(ExportLogsServiceResponse {
            partial_success: None,
        }))
    }
}

#[tonic::async_trait]
impl MetricsService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        let metrics = request.into_inner().resource_metrics;
        self.received(|received| received.resource_metrics.extend(metrics));
        Ok(tonic::Response::new(ExportMetricsServiceResponse {
            partial_success: None,
        }))
    }
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans = request.into_inner().resource_spans;
        self.received(|received| received.resource_spans.extend(spans));
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

/// An OTLP/gRPC receiver of traces, logs and metrics that stores
/// everything it is sent.
///
/// Dropping it stops the server and its runtime thread.
pub struct Sink {
    addr: SocketAddr,
    store: Arc<Store>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Sink {
    /// Starts the receiver on `127.0.0.1` with a port chosen by the OS.
    ///
    /// # Errors
    ///
    /// If the runtime, the thread or the listener cannot be set up.
    pub fn start() -> io::Result<Self> {
        let store = Arc::new(Store::default());
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = mpsc::channel::<io::Result<SocketAddr>>();
        let thread_store = Arc::clone(&store);
        let thread = thread::Builder::new()
            .name("otlp-sink".into())
            .spawn(move || serve(thread_store, ready_tx, shutdown_rx))?;

        let addr = match ready_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(addr)) => addr,
            Ok(Err(err)) => {
                let _ = thread.join();
                return Err(err);
            }
            Err(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the OTLP sink thread did not report its address",
                ));
            }
        };
        Ok(Self {
            addr,
            store,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        })
    }

    /// The address the receiver listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The receiver's endpoint as an OTLP exporter expects it: `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many export requests arrived so far.
    pub fn requests(&self) -> usize {
        self.store.lock().requests
    }

    /// Every `ResourceSpans` received so far, in arrival order.
    pub fn resource_spans(&self) -> Vec<ResourceSpans> {
        self.store.lock().resource_spans.clone()
    }

    /// Every span received so far, flattened, with its resource attributes.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        flatten(&self.store.lock().resource_spans)
    }

    /// Every `ResourceLogs` received so far, in arrival order.
    pub fn resource_logs(&self) -> Vec<ResourceLogs> {
        self.store.lock().resource_logs.clone()
    }

    /// Every `ResourceMetrics` received so far, in arrival order.
    pub fn resource_metrics(&self) -> Vec<ResourceMetrics> {
        self.store.lock().resource_metrics.clone()
    }

    /// Waits until `done` holds for what arrived (spans, logs, metrics), for
    /// at most `timeout`; returns whether it did.
    pub fn wait_until<F>(&self, timeout: Duration, done: F) -> bool
    where
        F: Fn(&[ResourceSpans], &[ResourceLogs], &[ResourceMetrics]) -> bool,
    {
        let deadline = Instant::now() + timeout;
        let mut received = self.store.lock();
        loop {
            if done(
                &received.resource_spans,
                &received.resource_logs,
                &received.resource_metrics,
            ) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            let slice = (deadline - now).min(Duration::from_millis(250));
            received = self
                .store
                .changed
                .wait_timeout(received, slice)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    /// Waits until `predicate` holds for the spans received so far, for at most
    /// `timeout`, and returns them.
    ///
    /// # Errors
    ///
    /// [`WaitTimeout`], carrying what did arrive, if the predicate still does
    /// not hold after `timeout`.
    pub fn wait_for<F>(
        &self,
        timeout: Duration,
        predicate: F,
    ) -> Result<Vec<ReceivedSpan>, WaitTimeout>
    where
        F: Fn(&[ReceivedSpan]) -> bool,
    {
        let deadline = Instant::now() + timeout;
        let mut received = self.store.lock();
        loop {
            let spans = flatten(&received.resource_spans);
            if predicate(&spans) {
                return Ok(spans);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(WaitTimeout {
                    waited: timeout,
                    requests: received.requests,
                    received: spans,
                });
            }
            // Wake up now and then even without news, so a predicate that
            // depends on something besides the spans is re-evaluated too.
            let slice = (deadline - now).min(Duration::from_millis(250));
            received = self
                .store
                .changed
                .wait_timeout(received, slice)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    /// Waits until at least `count` spans have arrived (at most `timeout`).
    ///
    /// # Errors
    ///
    /// [`WaitTimeout`] if fewer arrived in time.
    pub fn wait_for_count(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<ReceivedSpan>, WaitTimeout> {
        self.wait_for(timeout, |spans| spans.len() >= count)
    }

    /// Waits until no export request has arrived for `quiet` (at most `max`),
    /// then returns every span received. Use after [`Sink::wait_for`] to also
    /// catch spans that would arrive late, such as duplicates.
    pub fn settle(&self, quiet: Duration, max: Duration) -> Vec<ReceivedSpan> {
        let deadline = Instant::now() + max;
        loop {
            let last = self.store.lock().last_request;
            let now = Instant::now();
            let quiet_since = last.is_none_or(|at| now.duration_since(at) >= quiet);
            if quiet_since || now >= deadline {
                return self.spans();
            }
            thread::sleep(Duration::from_millis(50).min(deadline - now));
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl fmt::Debug for Sink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sink")
            .field("addr", &self.addr)
            .field("requests", &self.requests())
            .finish_non_exhaustive()
    }
}

/// Body of the sink's thread: a current-thread runtime running the tonic server
/// until `shutdown` fires. Dropping the runtime then closes every connection.
fn serve(
    store: Arc<Store>,
    ready: mpsc::Sender<io::Result<SocketAddr>>,
    shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            let _ = ready.send(Err(err));
            return;
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
            Ok(listener) => listener,
            Err(err) => {
                let _ = ready.send(Err(err));
                return;
            }
        };
        let addr = match listener.local_addr() {
            Ok(addr) => addr,
            Err(err) => {
                let _ = ready.send(Err(err));
                return;
            }
        };
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        let gzip = tonic::codec::CompressionEncoding::Gzip;
        let server = tonic::transport::Server::builder()
            .add_service(
                TraceServiceServer::new(Receiver {
                    store: store.clone(),
                })
                .accept_compressed(gzip),
            )
            .add_service(
                LogsServiceServer::new(Receiver {
                    store: store.clone(),
                })
                .accept_compressed(gzip),
            )
            .add_service(MetricsServiceServer::new(Receiver { store }).accept_compressed(gzip))
            .serve_with_incoming(incoming);
        let _ = ready.send(Ok(addr));
        tokio::select! {
            result = server => {
                if let Err(err) = result {
                    eprintln!("otlp sink on {addr} stopped: {err}");
                }
            }
            _ = shutdown => {}
        }
    });
}

/// [`Sink::wait_for`] gave up: the predicate never held.
#[derive(Debug)]
pub struct WaitTimeout {
    /// How long it waited.
    pub waited: Duration,
    /// How many export requests had arrived.
    pub requests: usize,
    /// Every span that had arrived.
    pub received: Vec<ReceivedSpan>,
}

impl fmt::Display for WaitTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "spans did not arrive within {:?}: {} export request(s), {} span(s) received",
            self.waited,
            self.requests,
            self.received.len()
        )?;
        for span in &self.received {
            writeln!(f, "  {}", span.summary())?;
        }
        Ok(())
    }
}

impl std::error::Error for WaitTimeout {}

// ---------------------------------------------------------------------------
// Received spans
// ---------------------------------------------------------------------------

/// One received span with the attributes of the resource it came with.
#[derive(Clone, Debug)]
pub struct ReceivedSpan {
    /// The resource's attributes (`service.name`, ...).
    pub resource: Vec<KeyValue>,
    /// The instrumentation scope's name.
    pub scope: String,
    /// The span as it arrived.
    pub span: Span,
}

impl ReceivedSpan {
    /// The span's name.
    pub fn name(&self) -> &str {
        &self.span.name
    }

    /// The trace id as lowercase hex (32 characters when well-formed).
    pub fn trace_id_hex(&self) -> String {
        hex(&self.span.trace_id)
    }

    /// The span id as lowercase hex.
    pub fn span_id_hex(&self) -> String {
        hex(&self.span.span_id)
    }

    /// The parent span id as lowercase hex; empty for a root span.
    pub fn parent_span_id_hex(&self) -> String {
        hex(&self.span.parent_span_id)
    }

    /// Whether the span has no parent.
    pub fn is_root(&self) -> bool {
        self.span.parent_span_id.is_empty() || self.span.parent_span_id.iter().all(|b| *b == 0)
    }

    /// The trace id in X-Ray form, `1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx`.
    pub fn xray_trace_id(&self) -> Option<String> {
        xray_trace_id(&self.span.trace_id)
    }

    /// The span's kind, if it is a known value.
    pub fn kind(&self) -> Option<span::SpanKind> {
        span::SpanKind::try_from(self.span.kind).ok()
    }

    /// The span's status code (`Unset` when there is no status).
    pub fn status_code(&self) -> status::StatusCode {
        self.span
            .status
            .as_ref()
            .and_then(|status| status::StatusCode::try_from(status.code).ok())
            .unwrap_or(status::StatusCode::Unset)
    }

    /// The span's status message (empty when there is none).
    pub fn status_message(&self) -> &str {
        self.span
            .status
            .as_ref()
            .map_or("", |status| status.message.as_str())
    }

    /// A span attribute's value.
    pub fn attr(&self, key: &str) -> Option<&any_value::Value> {
        find_attr(&self.span.attributes, key)
    }

    /// A resource attribute's value.
    pub fn resource_attr(&self, key: &str) -> Option<&any_value::Value> {
        find_attr(&self.resource, key)
    }

    /// The span's events with the given name.
    pub fn events(&self, name: &str) -> Vec<&span::Event> {
        self.span
            .events
            .iter()
            .filter(|event| event.name == name)
            .collect()
    }

    /// A one-line description for failure messages.
    pub fn summary(&self) -> String {
        let attrs: Vec<String> = self
            .span
            .attributes
            .iter()
            .map(|kv| {
                let value = kv.value.as_ref().and_then(|v| v.value.as_ref());
                format!("{}={}", kv.key, display_any(value))
            })
            .collect();
        let events: Vec<&str> = self.span.events.iter().map(|e| e.name.as_str()).collect();
        format!(
            "{name:?} trace={trace} span={span} parent={parent} kind={kind:?} status={status:?}({message:?}) attrs=[{attrs}] events={events:?} service={service}",
            name = self.span.name,
            trace = self.trace_id_hex(),
            span = self.span_id_hex(),
            parent = self.parent_span_id_hex(),
            kind = self.kind(),
            status = self.status_code(),
            message = self.status_message(),
            attrs = attrs.join(", "),
            service = display_any(self.resource_attr("service.name")),
        )
    }
}

/// Flattens `ResourceSpans` into one entry per span.
pub fn flatten(resource_spans: &[ResourceSpans]) -> Vec<ReceivedSpan> {
    let mut out = Vec::new();
    for rs in resource_spans {
        let resource = rs
            .resource
            .as_ref()
            .map(|r| r.attributes.clone())
            .unwrap_or_default();
        for ss in &rs.scope_spans {
            let scope = ss
                .scope
                .as_ref()
                .map(|s| s.name.clone())
                .unwrap_or_default();
            for span in &ss.spans {
                out.push(ReceivedSpan {
                    resource: resource.clone(),
                    scope: scope.clone(),
                    span: span.clone(),
                });
            }
        }
    }
    out
}

/// The value of the attribute `key` in `attributes`.
pub fn find_attr<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

/// The string inside a string value.
pub fn as_str(value: Option<&any_value::Value>) -> Option<&str> {
    match value {
        Some(any_value::Value::StringValue(s)) => Some(s),
        _ => None,
    }
}

/// The integer inside an int value.
pub fn as_i64(value: Option<&any_value::Value>) -> Option<i64> {
    match value {
        Some(any_value::Value::IntValue(i)) => Some(*i),
        _ => None,
    }
}

/// The strings of a string-array value (non-string elements are skipped).
pub fn as_str_array(value: Option<&any_value::Value>) -> Option<Vec<&str>> {
    match value {
        Some(any_value::Value::ArrayValue(array)) => Some(
            array
                .values
                .iter()
                .filter_map(|v| as_str(v.value.as_ref()))
                .collect(),
        ),
        _ => None,
    }
}

fn display_any(value: Option<&any_value::Value>) -> String {
    match value {
        None => "<none>".to_string(),
        Some(any_value::Value::StringValue(s)) => format!("{s:?}"),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::ArrayValue(a)) => {
            let items: Vec<String> = a
                .values
                .iter()
                .map(|v: &AnyValue| display_any(v.value.as_ref()))
                .collect();
            format!("[{}]", items.join(", "))
        }
        Some(other) => format!("{other:?}"),
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// The X-Ray form of a 16-byte trace id: `1-` + 8 hex digits (the first four
/// bytes, epoch seconds) + `-` + the remaining 24 hex digits.
pub fn xray_trace_id(trace_id: &[u8]) -> Option<String> {
    if trace_id.len() != 16 {
        return None;
    }
    let hex = hex(trace_id);
    Some(format!("1-{}-{}", &hex[..8], &hex[8..]))
}

/// The epoch seconds stored big-endian in the first four bytes of a trace id.
pub fn trace_id_epoch_seconds(trace_id: &[u8]) -> Option<u32> {
    let head: [u8; 4] = trace_id.get(..4)?.try_into().ok()?;
    Some(u32::from_be_bytes(head))
}

/// Seconds since the Unix epoch, now.
pub fn now_epoch_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Whether no two spans share a span id.
pub fn span_ids_unique(spans: &[ReceivedSpan]) -> bool {
    let mut seen = HashSet::new();
    spans.iter().all(|s| seen.insert(s.span.span_id.clone()))
}

// ---------------------------------------------------------------------------
// Rotel
// ---------------------------------------------------------------------------

/// A running `rotel-agent` collector, killed on drop.
///
/// It receives OTLP over gRPC and HTTP on free loopback ports and exports
/// everything over OTLP/gRPC to the endpoint it was started with.
pub struct Rotel {
    child: Child,
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
    dir: PathBuf,
    log_path: PathBuf,
}

impl Rotel {
    /// The collector binary: `$XRAY_ROTEL_BIN`, else `<target>/tools/rotel-agent`.
    pub fn binary() -> PathBuf {
        if let Some(path) = std::env::var_os("XRAY_ROTEL_BIN").filter(|p| !p.is_empty()) {
            return PathBuf::from(path);
        }
        let relative = Path::new("tools").join("rotel-agent");
        // An explicit target directory, as the build was told or as set now.
        let explicit = std::env::var_os("CARGO_TARGET_DIR")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .or_else(|| option_env!("CARGO_TARGET_DIR").map(PathBuf::from));
        if let Some(target) = explicit {
            let candidate = target.join(&relative);
            if candidate.exists() {
                return candidate;
            }
        }
        // The running test or binary lives somewhere under the target directory.
        if let Ok(exe) = std::env::current_exe() {
            for dir in exe.ancestors().skip(1) {
                let candidate = dir.join(&relative);
                if candidate.exists() {
                    return candidate;
                }
            }
        }
        // The workspace's default target directory (this package is tests/collector).
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        manifest
            .parent()
            .and_then(Path::parent)
            .unwrap_or(manifest)
            .join("target")
            .join(relative)
    }

    /// Starts the collector, exporting over OTLP/gRPC to `exporter_endpoint`
    /// (for example [`Sink::endpoint`]), and waits until both receivers accept
    /// TCP connections.
    ///
    /// # Errors
    ///
    /// If the collector cannot be spawned, exits before it is ready (after a
    /// few attempts with new ports) or does not listen in time; the message
    /// includes its log.
    ///
    /// # Panics
    ///
    /// If the collector binary does not exist: run `tests/collector/install-rotel.sh`.
    pub fn start(exporter_endpoint: &str) -> io::Result<Self> {
        let binary = Self::binary();
        assert!(
            binary.is_file(),
            "the rotel collector is not installed at {}: run tests/collector/install-rotel.sh \
             (or set XRAY_ROTEL_BIN to a rotel-agent binary)",
            binary.display()
        );
        let mut last_error = None;
        for _ in 0..ROTEL_START_ATTEMPTS {
            match Self::start_once(&binary, exporter_endpoint) {
                Ok(rotel) => return Ok(rotel),
                // Exited early: most likely a port was taken meanwhile; try new ones.
                Err(StartError::Exited(err)) => last_error = Some(err),
                Err(StartError::Other(err)) => return Err(err),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("rotel did not start")))
    }

    fn start_once(binary: &Path, exporter_endpoint: &str) -> Result<Self, StartError> {
        let dir = make_temp_dir().map_err(StartError::Other)?;
        let log_path = dir.join("rotel.log");
        let log = File::create(&log_path).map_err(StartError::Other)?;
        let log_err = log.try_clone().map_err(StartError::Other)?;
        let [grpc_addr, http_addr] = free_ports::<2>().map_err(StartError::Other)?;

        let mut command = Command::new(binary);
        command
            .arg("start")
            .arg("--otlp-grpc-endpoint")
            .arg(grpc_addr.to_string())
            .arg("--otlp-http-endpoint")
            .arg(http_addr.to_string())
            .args(["--exporter", "otlp"])
            .arg("--otlp-exporter-endpoint")
            .arg(exporter_endpoint)
            .args(["--otlp-exporter-protocol", "grpc"])
            .args(["--otlp-exporter-retry-initial-backoff", "100ms"])
            .args(["--otlp-exporter-retry-max-backoff", "1s"])
            .args(["--batch-timeout", "100ms"])
            .arg("--pid-file")
            .arg(dir.join("rotel.pid"))
            .arg("--log-file")
            .arg(dir.join("rotel-daemon.log"))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err));
        // Settings from the environment (ROTEL_*) would override nothing given
        // above but could add exporters or daemonize: start from a clean slate.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("ROTEL_") {
                command.env_remove(key);
            }
        }
        let child = command.spawn().map_err(|err| {
            StartError::Other(io::Error::new(
                err.kind(),
                format!("cannot start {}: {err}", binary.display()),
            ))
        })?;

        let mut rotel = Rotel {
            child,
            grpc_addr,
            http_addr,
            dir,
            log_path,
        };
        rotel.wait_ready(ROTEL_READY_TIMEOUT)?;
        Ok(rotel)
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<(), StartError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(StartError::Exited(io::Error::other(format!(
                    "rotel exited before it was ready ({status}); its log:\n{}",
                    self.log()
                ))));
            }
            let up = |addr: &SocketAddr| {
                TcpStream::connect_timeout(addr, Duration::from_millis(200)).is_ok()
            };
            if up(&self.grpc_addr) && up(&self.http_addr) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(StartError::Other(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "rotel did not accept connections on {} and {} within {timeout:?}; its log:\n{}",
                        self.grpc_addr,
                        self.http_addr,
                        self.log()
                    ),
                )));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// The OTLP/gRPC receiver's endpoint: `http://127.0.0.1:PORT`.
    pub fn grpc_endpoint(&self) -> String {
        format!("http://{}", self.grpc_addr)
    }

    /// The OTLP/HTTP receiver's endpoint: `http://127.0.0.1:PORT`.
    pub fn http_endpoint(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    /// The OTLP/gRPC receiver's address.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// The OTLP/HTTP receiver's address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The collector's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the collector is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Where the collector's stdout and stderr go.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The collector's output so far.
    pub fn log(&self) -> String {
        match fs::read(&self.log_path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(err) => format!("<cannot read {}: {err}>", self.log_path.display()),
        }
    }
}

impl Drop for Rotel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            // The test failed: show what the collector said, keep its files.
            eprintln!(
                "---- rotel log ({}) ----\n{}\n---- end of rotel log ----",
                self.log_path.display(),
                self.log()
            );
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

impl fmt::Debug for Rotel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rotel")
            .field("pid", &self.child.id())
            .field("grpc_addr", &self.grpc_addr)
            .field("http_addr", &self.http_addr)
            .field("log_path", &self.log_path)
            .finish_non_exhaustive()
    }
}

enum StartError {
    /// The collector exited before it was ready.
    Exited(io::Error),
    Other(io::Error),
}

impl From<StartError> for io::Error {
    fn from(err: StartError) -> Self {
        match err {
            StartError::Exited(err) | StartError::Other(err) => err,
        }
    }
}

/// `N` distinct loopback addresses whose ports were free a moment ago.
///
/// All listeners are held until every port is known, so the ports differ.
///
/// # Errors
///
/// If binding a loopback listener fails.
pub fn free_ports<const N: usize>() -> io::Result<[SocketAddr; N]> {
    let listeners = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<io::Result<Vec<_>>>()?;
    let addrs = listeners
        .iter()
        .map(TcpListener::local_addr)
        .collect::<io::Result<Vec<_>>>()?;
    drop(listeners);
    addrs
        .try_into()
        .map_err(|_| io::Error::other("wrong number of ports"))
}

/// A fresh directory under the system temp dir.
fn make_temp_dir() -> io::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!(
        "xray-rotel-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    fs::create_dir_all(&dir)?;
    Ok(dir)
}
