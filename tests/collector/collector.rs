//! End to end through a real OpenTelemetry collector.
//!
//! Each test starts an OTLP sink and a rotel collector exporting to it, runs
//! the `traced_app` binary (instrumented with `xray-runtime` only) against
//! rotel's OTLP gRPC or OTLP HTTP/protobuf receiver, and checks what arrived at
//! the sink: X-Ray-valid trace ids equal to the ones the program printed, the
//! parent links, kinds, attributes, annotations and errors.
//!
//! Needs the collector: run `tests/collector/install-rotel.sh` first.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use xray_collector_tests::proto::trace::v1::{span::SpanKind, status::StatusCode};
use xray_collector_tests::{
    DEFAULT_WAIT, ReceivedSpan, Rotel, Sink, as_i64, as_str, as_str_array, find_attr,
    now_epoch_seconds, span_ids_unique, trace_id_epoch_seconds,
};

/// How long the instrumented program may run, export included.
const APP_TIMEOUT: Duration = Duration::from_secs(60);

/// How far a trace id's timestamp may be from the test's clock.
const CLOCK_SLACK_SECS: u64 = 300;

/// How many requests `traced_app` handles, one trace each.
const REQUESTS: usize = 3;

#[test]
fn otlp_grpc_through_rotel() {
    let sink = Sink::start().expect("the OTLP sink should start on 127.0.0.1");
    let rotel = Rotel::start(&sink.endpoint()).expect("rotel should start and listen");
    let endpoint = rotel.grpc_endpoint();
    check_round_trip(&sink, &rotel, "grpc", &endpoint, &[]);
}

#[test]
fn otlp_http_protobuf_through_rotel() {
    let sink = Sink::start().expect("the OTLP sink should start on 127.0.0.1");
    let rotel = Rotel::start(&sink.endpoint()).expect("rotel should start and listen");
    let endpoint = rotel.http_endpoint();
    check_round_trip(&sink, &rotel, "http/protobuf", &endpoint, &[]);
}

#[test]
fn otlp_grpc_gzip_through_rotel() {
    let sink = Sink::start().expect("the OTLP sink should start on 127.0.0.1");
    let rotel = Rotel::start(&sink.endpoint()).expect("rotel should start and listen");
    let endpoint = rotel.grpc_endpoint();
    let gzip = [("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")];
    check_round_trip(&sink, &rotel, "grpc", &endpoint, &gzip);
}

#[test]
fn otlp_http_protobuf_gzip_through_rotel() {
    let sink = Sink::start().expect("the OTLP sink should start on 127.0.0.1");
    let rotel = Rotel::start(&sink.endpoint()).expect("rotel should start and listen");
    let endpoint = rotel.http_endpoint();
    let gzip = [("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip")];
    check_round_trip(&sink, &rotel, "http/protobuf", &endpoint, &gzip);
}

/// Runs `traced_app` against `endpoint` with `protocol` (and `env`) and
/// checks what reached the sink through rotel.
fn check_round_trip(
    sink: &Sink,
    rotel: &Rotel,
    protocol: &str,
    endpoint: &str,
    env: &[(&str, &str)],
) {
    let started = now_epoch_seconds();
    let app = run_traced_app(protocol, endpoint, env);
    assert!(
        app.status.success(),
        "traced_app failed ({}) with protocol {protocol} and endpoint {endpoint}\n{}",
        app.status,
        app.describe()
    );

    let printed = app.printed_trace_ids();
    assert_eq!(
        printed.len(),
        REQUESTS,
        "traced_app should print one `TRACE <id>` line per request\n{}",
        app.describe()
    );
    for id in &printed {
        assert!(
            is_xray_trace_id(id),
            "traced_app printed {id:?}, not an X-Ray trace id (1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx)\n{}",
            app.describe()
        );
    }
    let distinct: HashSet<&String> = printed.iter().collect();
    assert_eq!(
        distinct.len(),
        REQUESTS,
        "each request should have its own trace, printed {printed:?}"
    );

    let arrived = sink.wait_for(DEFAULT_WAIT, |spans| {
        printed.iter().all(|id| {
            spans
                .iter()
                .filter(|s| s.xray_trace_id().as_deref() == Some(id.as_str()))
                .count()
                >= 4
        })
    });
    if let Err(timeout) = arrived {
        panic!(
            "the spans of traces {printed:?} did not all arrive at the sink through rotel \
             ({protocol} to {endpoint}, rotel pid {}):\n{timeout}\n{}",
            rotel.pid(),
            app.describe()
        );
    }
    // Let late or duplicate exports arrive too, so "exactly" means exactly.
    let spans = sink.settle(Duration::from_millis(600), Duration::from_secs(5));

    let problems = verify_export(&printed, &spans, started, now_epoch_seconds());
    if !problems.is_empty() {
        let dump: Vec<String> = spans.iter().map(|s| format!("  {}", s.summary())).collect();
        panic!(
            "{} problem(s) with what arrived through rotel ({protocol}):\n- {}\n\nspans received ({}):\n{}\n{}",
            problems.len(),
            problems.join("\n- "),
            spans.len(),
            dump.join("\n"),
            app.describe()
        );
    }
}

/// Checks every span that arrived against what `traced_app` does; returns the
/// problems found. `printed[i]` is the trace id printed by `handle(i)`.
fn verify_export(
    printed: &[String],
    spans: &[ReceivedSpan],
    started: u64,
    now: u64,
) -> Vec<String> {
    let mut problems = Vec::new();

    // Every span belongs to one of the printed traces, and nothing else arrived.
    let arrived_traces: HashSet<String> = spans
        .iter()
        .map(|s| s.xray_trace_id().unwrap_or_else(|| s.trace_id_hex()))
        .collect();
    let printed_traces: HashSet<String> = printed.iter().cloned().collect();
    if arrived_traces != printed_traces {
        problems.push(format!(
            "traces received {arrived_traces:?}, expected exactly the printed {printed_traces:?}"
        ));
    }

    for span in spans {
        if span.span.trace_id.len() != 16 || span.span.trace_id.iter().all(|b| *b == 0) {
            problems.push(format!(
                "span {:?} has an invalid trace id {:?}",
                span.name(),
                span.trace_id_hex()
            ));
        }
        if span.span.span_id.len() != 8 || span.span.span_id.iter().all(|b| *b == 0) {
            problems.push(format!(
                "span {:?} has an invalid span id {:?}",
                span.name(),
                span.span_id_hex()
            ));
        }
        let service = as_str(span.resource_attr("service.name"));
        if service != Some("e2e-app") {
            problems.push(format!(
                "span {:?} has resource service.name {service:?}, expected \"e2e-app\"",
                span.name()
            ));
        }
    }
    if !span_ids_unique(spans) {
        problems.push("span ids are not unique".to_string());
    }

    for (i, trace) in printed.iter().enumerate() {
        let in_trace: Vec<&ReceivedSpan> = spans
            .iter()
            .filter(|s| s.xray_trace_id().as_deref() == Some(trace.as_str()))
            .collect();
        verify_trace(i, trace, &in_trace, started, now, &mut problems);
    }
    problems
}

/// Checks the four spans of the trace of `handle(i)`.
fn verify_trace(
    i: usize,
    trace: &str,
    spans: &[&ReceivedSpan],
    started: u64,
    now: u64,
    problems: &mut Vec<String>,
) {
    let mut by_name: BTreeMap<&str, Vec<&ReceivedSpan>> = BTreeMap::new();
    for span in spans {
        by_name.entry(span.name()).or_default().push(span);
    }
    let counts: BTreeMap<&str, usize> = by_name.iter().map(|(k, v)| (*k, v.len())).collect();
    let expected: BTreeMap<&str, usize> = [("fail", 1), ("handle", 1), ("inner", 1), ("load", 1)]
        .into_iter()
        .collect();
    if counts != expected {
        problems.push(format!(
            "trace {trace} (request {i}): spans by name {counts:?}, expected exactly {expected:?}"
        ));
    }
    let one = |name: &str| by_name.get(name).and_then(|v| v.first().copied());
    let (Some(handle), Some(load), Some(inner), Some(fail)) =
        (one("handle"), one("load"), one("inner"), one("fail"))
    else {
        return;
    };

    // The trace id: X-Ray form as printed, epoch seconds in its first 4 bytes.
    match trace_id_epoch_seconds(&handle.span.trace_id) {
        Some(epoch)
            if u64::from(epoch) + CLOCK_SLACK_SECS >= started
                && u64::from(epoch) <= now + CLOCK_SLACK_SECS => {}
        other => problems.push(format!(
            "trace {trace}: first 4 bytes of the trace id as epoch seconds are {other:?}, \
             expected within {CLOCK_SLACK_SECS}s of the test's clock ({started}..{now})"
        )),
    }

    // handle: the root, a server span.
    if handle.kind() != Some(SpanKind::Server) {
        problems.push(format!(
            "trace {trace}: handle has kind {:?}, expected Server",
            handle.kind()
        ));
    }
    if !handle.is_root() {
        problems.push(format!(
            "trace {trace}: handle has parent {}, expected none",
            handle.parent_span_id_hex()
        ));
    }

    // load: child of handle, with the attribute and the annotation.
    check_parent(trace, load, handle, problems);
    check_internal(trace, load, problems);
    let item_id = as_i64(load.attr("item.id"));
    if item_id != i64::try_from(i).ok() {
        problems.push(format!(
            "trace {trace}: load has item.id {item_id:?}, expected the int {i}"
        ));
    }
    let tier = as_str(load.attr("tier"));
    if tier != Some("gold") {
        problems.push(format!(
            "trace {trace}: load has tier {tier:?}, expected \"gold\""
        ));
    }
    let annotations = as_str_array(load.attr("aws.xray.annotations"));
    if !annotations
        .as_ref()
        .is_some_and(|keys| keys.contains(&"tier"))
    {
        problems.push(format!(
            "trace {trace}: load has aws.xray.annotations {annotations:?}, expected a string array containing \"tier\""
        ));
    }

    // inner: child of load.
    check_parent(trace, inner, load, problems);
    check_internal(trace, inner, problems);

    // fail: child of handle, an error with an exception event.
    check_parent(trace, fail, handle, problems);
    check_internal(trace, fail, problems);
    let message = format!("boom {i}");
    if fail.status_code() != StatusCode::Error {
        problems.push(format!(
            "trace {trace}: fail has status {:?}, expected Error",
            fail.status_code()
        ));
    }
    if fail.status_message() != message {
        problems.push(format!(
            "trace {trace}: fail has status description {:?}, expected {message:?}",
            fail.status_message()
        ));
    }
    let exceptions = fail.events("exception");
    let matching = exceptions.iter().any(|event| {
        as_str(find_attr(&event.attributes, "exception.message")) == Some(message.as_str())
            && as_str(find_attr(&event.attributes, "exception.type")).is_some_and(|t| !t.is_empty())
    });
    if !matching {
        let found: Vec<String> = exceptions
            .iter()
            .map(|event| {
                format!(
                    "type={:?} message={:?}",
                    as_str(find_attr(&event.attributes, "exception.type")),
                    as_str(find_attr(&event.attributes, "exception.message"))
                )
            })
            .collect();
        problems.push(format!(
            "trace {trace}: fail should have an `exception` event with exception.message {message:?} \
             and an exception.type; its exception events: {found:?}"
        ));
    }
}

fn check_parent(
    trace: &str,
    child: &ReceivedSpan,
    parent: &ReceivedSpan,
    problems: &mut Vec<String>,
) {
    if child.span.parent_span_id != parent.span.span_id {
        problems.push(format!(
            "trace {trace}: {} has parent {:?}, expected {} ({})",
            child.name(),
            child.parent_span_id_hex(),
            parent.name(),
            parent.span_id_hex()
        ));
    }
}

fn check_internal(trace: &str, span: &ReceivedSpan, problems: &mut Vec<String>) {
    if span.kind() != Some(SpanKind::Internal) {
        problems.push(format!(
            "trace {trace}: {} has kind {:?}, expected Internal (the default)",
            span.name(),
            span.kind()
        ));
    }
}

/// `1-` + 8 hex digits + `-` + 24 hex digits, lowercase.
fn is_xray_trace_id(id: &str) -> bool {
    let parts: Vec<&str> = id.split('-').collect();
    let hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    parts.len() == 3 && parts[0] == "1" && hex(parts[1], 8) && hex(parts[2], 24)
}

/// What a run of `traced_app` left behind.
struct AppRun {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl AppRun {
    /// The ids of the `TRACE <id>` lines, in order.
    fn printed_trace_ids(&self) -> Vec<String> {
        self.stdout
            .lines()
            .filter_map(|line| line.strip_prefix("TRACE"))
            .map(|rest| rest.trim().to_string())
            .collect()
    }

    fn describe(&self) -> String {
        format!(
            "---- traced_app stdout ----\n{}\n---- traced_app stderr ----\n{}\n---- end of traced_app output ----",
            self.stdout, self.stderr
        )
    }
}

/// Runs `traced_app` to completion (at most [`APP_TIMEOUT`]) exporting over
/// OTLP with `protocol` to `endpoint`.
fn run_traced_app(protocol: &str, endpoint: &str, env: &[(&str, &str)]) -> AppRun {
    let mut command = Command::new(env!("CARGO_BIN_EXE_traced_app"));
    // Only the settings under test: no inherited OTEL_* configuration.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("OTEL_") {
            command.env_remove(key);
        }
    }
    command
        .env("OTEL_TRACES_EXPORTER", "otlp")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .expect("the traced_app binary built by cargo should start");
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());

    let status = wait_bounded(&mut child, APP_TIMEOUT);
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    match status {
        Some(status) => AppRun {
            status,
            stdout,
            stderr,
        },
        None => panic!(
            "traced_app did not finish within {APP_TIMEOUT:?} ({protocol} to {endpoint}); killed it\n\
             ---- stdout ----\n{stdout}\n---- stderr ----\n{stderr}"
        ),
    }
}

/// Reads a child's pipe to the end on a thread of its own.
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
        text
    })
}

/// Waits for `child` at most `timeout`; kills it (by its own handle) and
/// returns `None` if it is still running then.
fn wait_bounded(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

#[test]
fn xray_trace_id_format_check() {
    assert!(is_xray_trace_id("1-5759e988-bd862e3fe1be46a994272793"));
    assert!(!is_xray_trace_id(""));
    assert!(!is_xray_trace_id("1-5759e988-bd862e3fe1be46a99427279"));
    assert!(!is_xray_trace_id("2-5759e988-bd862e3fe1be46a994272793"));
    assert!(!is_xray_trace_id("1-5759E988-bd862e3fe1be46a994272793"));
    assert_eq!(
        xray_collector_tests::xray_trace_id(&[
            0x57, 0x59, 0xe9, 0x88, 0xbd, 0x86, 0x2e, 0x3f, 0xe1, 0xbe, 0x46, 0xa9, 0x94, 0x27,
            0x27, 0x93
        ])
        .as_deref(),
        Some("1-5759e988-bd862e3fe1be46a994272793")
    );
}
