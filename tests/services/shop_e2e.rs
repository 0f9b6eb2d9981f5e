//! The shop example end to end: the warehouse, the store and the shopper
//! (the `examples/shop` sources) run as three processes exporting OTLP to a
//! real collector (rotel), which forwards to a sink. On the far side: one
//! trace, three services, every parent link across both hops.
//!
//! Needs the collector: run `tests/collector/install-rotel.sh` first
//! (`tests/run.sh` does).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use xray_collector_tests::proto::trace::v1::span::SpanKind;
use xray_collector_tests::{DEFAULT_WAIT, ReceivedSpan, Rotel, Sink, as_i64, as_str, as_str_array};

const START_TIMEOUT: Duration = Duration::from_secs(30);
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// One of the shop's processes; killed on drop if still running.
struct Process {
    name: &'static str,
    child: Child,
    lines: mpsc::Receiver<String>,
    stdout: Vec<String>,
    stderr: Option<thread::JoinHandle<String>>,
}

impl Process {
    fn spawn(name: &'static str, binary: &str, env: &[(&str, String)], args: &[&str]) -> Self {
        let mut command = Command::new(binary);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("OTEL_") {
                command.env_remove(key);
            }
        }
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("{name} starts: {err}"));
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut stderr = child.stderr.take().expect("piped stderr");
        let stderr = thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Self {
            name,
            child,
            lines,
            stdout: Vec::new(),
            stderr: Some(stderr),
        }
    }

    /// Waits for the `listening on http://ADDR` line; returns the URL.
    fn listening(&mut self) -> String {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let url = line.strip_prefix("listening on ").map(str::to_owned);
                    self.stdout.push(line);
                    if let Some(url) = url {
                        return url;
                    }
                }
                Err(_) => {
                    let name = self.name;
                    panic!("{name} did not start listening:\n{}", self.describe())
                }
            }
        }
    }

    /// Waits (bounded) for the process to exit.
    fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.stdout.extend(self.lines.try_iter());
                return status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let name = self.name;
                panic!(
                    "{name} did not exit within {timeout:?}:\n{}",
                    self.describe()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Asks the process to stop (SIGTERM, by its own pid), as an operator
    /// would; the servers then shut down gracefully and flush their spans.
    fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(
            sent.is_ok_and(|s| s.success()),
            "kill -TERM {pid} ({})",
            self.name
        );
        self.wait(RUN_TIMEOUT)
    }

    fn describe(&mut self) -> String {
        self.stdout.extend(self.lines.try_iter());
        let stderr = match self.child.try_wait() {
            Ok(Some(_)) => self
                .stderr
                .take()
                .and_then(|handle| handle.join().ok())
                .unwrap_or_default(),
            _ => "<still running>".to_owned(),
        };
        format!(
            "--- {} stdout\n{}\n--- {} stderr\n{stderr}",
            self.name,
            self.stdout.join("\n"),
            self.name
        )
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn otlp(endpoint: String, protocol: &str) -> Vec<(&'static str, String)> {
    vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.to_owned()),
    ]
}

fn port_of(url: &str) -> &str {
    url.rsplit(':').next().unwrap_or_default()
}

#[test]
fn shop_example_through_a_real_collector() {
    let sink = Sink::start().expect("the OTLP sink starts");
    let rotel = Rotel::start(&sink.endpoint()).expect("rotel starts");

    let mut env = otlp(rotel.grpc_endpoint(), "grpc");
    env.push(("WAREHOUSE_ADDR", "127.0.0.1:0".to_owned()));
    let mut warehouse =
        Process::spawn("warehouse", env!("CARGO_BIN_EXE_shop-warehouse"), &env, &[]);
    let warehouse_url = warehouse.listening();

    let mut env = otlp(rotel.grpc_endpoint(), "grpc");
    env.push(("STORE_ADDR", "127.0.0.1:0".to_owned()));
    env.push(("WAREHOUSE_URL", warehouse_url.clone()));
    let mut store = Process::spawn("store", env!("CARGO_BIN_EXE_shop-store"), &env, &[]);
    let store_url = store.listening();

    // The shopper exports over OTLP/HTTP, the servers over gRPC.
    let mut env = otlp(rotel.http_endpoint(), "http/protobuf");
    env.push(("STORE_URL", store_url.clone()));
    let mut shopper = Process::spawn("shopper", env!("CARGO_BIN_EXE_shop-shopper"), &env, &["7"]);
    let status = shopper.wait(RUN_TIMEOUT);
    let output = shopper.describe();
    assert!(status.success(), "the shopper succeeds\n{output}");
    let trace = shopper
        .stdout
        .iter()
        .find_map(|line| line.strip_prefix("TRACE "))
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("the shopper prints its trace\n{output}"));
    assert!(
        shopper
            .stdout
            .iter()
            .any(|line| line == "order 7: stock {\"item\":7,\"available\":3}, total 1350"),
        "the store's answer\n{output}"
    );

    for server in [&mut store, &mut warehouse] {
        let status = server.terminate();
        let output = server.describe();
        assert!(status.success(), "{} stops cleanly\n{output}", server.name);
    }

    let arrived = sink.wait_for(DEFAULT_WAIT, |spans| {
        spans
            .iter()
            .filter(|s| s.xray_trace_id().as_deref() == Some(trace.as_str()))
            .count()
            >= 8
    });
    if let Err(timeout) = arrived {
        panic!("the shop's spans did not all arrive through rotel:\n{timeout}");
    }
    let spans = sink.settle(Duration::from_millis(600), Duration::from_secs(5));
    let dump = || {
        spans
            .iter()
            .map(|s| format!("  {}", s.summary()))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        spans
            .iter()
            .all(|s| s.xray_trace_id().as_deref() == Some(trace.as_str())),
        "one trace across the three services, nothing else:\n{}",
        dump()
    );

    let mut by_name: BTreeMap<&str, Vec<&ReceivedSpan>> = BTreeMap::new();
    for span in &spans {
        by_name.entry(span.name()).or_default().push(span);
    }
    let to_store = format!("GET 127.0.0.1:{}", port_of(&store_url));
    let to_warehouse = format!("GET 127.0.0.1:{}", port_of(&warehouse_url));
    // name, service, kind, parent's name (None: the root)
    let expected: [(&str, &str, SpanKind, Option<&str>); 8] = [
        ("place order", "shopper", SpanKind::Internal, None),
        (&to_store, "shopper", SpanKind::Client, Some("place order")),
        (
            "GET /orders/{id}",
            "store",
            SpanKind::Server,
            Some(&to_store),
        ),
        (
            "check_stock",
            "store",
            SpanKind::Internal,
            Some("GET /orders/{id}"),
        ),
        (
            &to_warehouse,
            "store",
            SpanKind::Client,
            Some("check_stock"),
        ),
        (
            "price",
            "store",
            SpanKind::Internal,
            Some("GET /orders/{id}"),
        ),
        (
            "GET /stock/{item}",
            "warehouse",
            SpanKind::Server,
            Some(&to_warehouse),
        ),
        (
            "SELECT stock",
            "warehouse",
            SpanKind::Client,
            Some("GET /stock/{item}"),
        ),
    ];
    assert_eq!(
        spans.len(),
        expected.len(),
        "exactly the shop's spans:\n{}",
        dump()
    );
    let one = |name: &str| -> &ReceivedSpan {
        match by_name.get(name).map(Vec::as_slice) {
            Some([span]) => span,
            _ => panic!("exactly one span named {name:?}:\n{}", dump()),
        }
    };
    for (name, service, kind, parent) in expected {
        let span = one(name);
        assert_eq!(
            as_str(span.resource_attr("service.name")),
            Some(service),
            "{name}"
        );
        assert_eq!(span.kind(), Some(kind), "{name}");
        match parent {
            None => assert!(span.is_root(), "{name} is the root:\n{}", dump()),
            Some(parent) => assert_eq!(
                span.parent_span_id_hex(),
                one(parent).span_id_hex(),
                "{name} is a child of {parent}:\n{}",
                dump()
            ),
        }
    }

    for name in [
        "GET /orders/{id}",
        "GET /stock/{item}",
        &to_store,
        &to_warehouse,
    ] {
        assert_eq!(
            as_i64(one(name).attr("http.response.status_code")),
            Some(200),
            "{name}"
        );
    }
    assert_eq!(
        as_str(one("GET /orders/{id}").attr("http.route")),
        Some("/orders/{id}")
    );
    assert_eq!(
        as_str(one("GET /orders/{id}").attr("url.path")),
        Some("/orders/7")
    );
    assert_eq!(
        as_str(one(&to_warehouse).attr("url.full")),
        Some(format!("{warehouse_url}/stock/7").as_str())
    );
    assert!(
        as_str_array(one("SELECT stock").attr("aws.xray.annotations"))
            .is_some_and(|keys| keys.contains(&"item")),
        "{}",
        dump()
    );
}
