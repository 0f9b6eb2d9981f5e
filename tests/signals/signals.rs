//! Logs and metrics that line up with the traces, tested with real
//! processes and real peers:
//!
//! * the lines of `tracing_subscriber::fmt` (JSON and text) and of
//!   `env_logger` carry the trace and span ids of the span they were written
//!   in, and lines outside spans carry none;
//! * through a real collector (rotel), log records and metric points arrive
//!   with the program's resource, with the trace and span ids of its spans,
//!   histogram counts equal to the calls made and their outcomes; all three
//!   signals are exported at exit;
//! * straight to CloudWatch Logs' OTLP endpoint, played by a TLS receiver
//!   that checks every SigV4 signature with botocore and the log group and
//!   stream headers; and a CloudWatch endpoint that is down costs the exit
//!   no more than the timeout, the losses counted and said.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use serde_json::Value as Json;
use xray_collector_tests::proto::common::v1::{AnyValue, KeyValue, any_value};
use xray_collector_tests::proto::logs::v1::{LogRecord, ResourceLogs};
use xray_collector_tests::proto::metrics::v1::{HistogramDataPoint, ResourceMetrics, metric};
use xray_collector_tests::{ReceivedSpan, Rotel, Sink, flatten, hex};
use xray_secure_tests::{Certs, Peer, Run, run, scratch};

fn log_lines() -> &'static str {
    env!("CARGO_BIN_EXE_log_lines")
}

fn signals_app() -> &'static str {
    env!("CARGO_BIN_EXE_signals_app")
}

// ---------------------------------------------------------------------------
// Log lines with their ids, in real processes.

/// The ids the program saw at each place (`IDS <place> <trace> <span>` on stderr).
fn places(run: &Run) -> HashMap<String, (String, String)> {
    run.stderr
        .lines()
        .filter_map(|line| {
            let mut words = line.strip_prefix("IDS ")?.split_whitespace();
            let place = words.next()?.to_string();
            Some((
                place,
                (words.next()?.to_string(), words.next()?.to_string()),
            ))
        })
        .collect()
}

/// The places logged inside spans, and outside.
const INSIDE: [&str; 6] = [
    "in-root",
    "in-child",
    "in-root-again",
    "in-unsampled",
    "before-await",
    "after-await",
];
const OUTSIDE: [&str; 2] = ["outside-before", "outside-after"];

/// Checks the ids the program printed: X-Ray trace ids, the child in its
/// root's trace under another span id, the unsampled caller's trace kept.
fn check_places(places: &HashMap<String, (String, String)>, run: &Run) {
    for place in INSIDE {
        let (trace, span) = places
            .get(place)
            .unwrap_or_else(|| panic!("no ids for {place}{run}"));
        assert!(trace.starts_with("1-") && trace.len() == 35, "{trace}{run}");
        assert_eq!(span.len(), 16, "{span}{run}");
    }
    assert_eq!(places["in-root"], places["in-root-again"]);
    assert_eq!(places["in-root"].0, places["in-child"].0);
    assert_ne!(places["in-root"].1, places["in-child"].1);
    assert_eq!(
        places["in-unsampled"].0, "1-5759e988-bd862e3fe1be46a994272793",
        "a trace the caller did not sample is still named{run}"
    );
    assert_eq!(places["before-await"], places["after-await"]);
}

/// The line whose message is `place`.
fn line_of<'a>(lines: &'a [&'a str], place: &str, run: &Run) -> &'a str {
    let found: Vec<&&str> = lines
        .iter()
        .filter(|line| {
            line.contains(&format!("\"{place}\"")) || line.contains(&format!(" {place} "))
        })
        .collect();
    assert_eq!(found.len(), 1, "one line for {place}{run}");
    found[0]
}

#[test]
fn tracing_json_lines_carry_the_ids_of_their_span() {
    let run = run(log_lines(), &[], &[("LOG_MODE", "tracing-json")]);
    assert!(run.status.success(), "{run}");
    let places = places(&run);
    check_places(&places, &run);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), INSIDE.len() + OUTSIDE.len(), "{run}");
    for line in &lines {
        let json: Json =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}{run}"));
        let place = json["fields"]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("no message: {line}"));
        assert_eq!(
            json["fields"]["order"], 7,
            "the event's fields are kept: {line}"
        );
        assert_eq!(json["level"], "INFO", "{line}");
        match places.get(place) {
            Some((trace, span)) => {
                assert_eq!(json["trace_id"], trace.as_str(), "{line}");
                assert_eq!(json["span_id"], span.as_str(), "{line}");
                assert!(
                    line.starts_with("{\"trace_id\":"),
                    "the ids open the object: {line}"
                );
            }
            None => {
                assert!(OUTSIDE.contains(&place), "{line}");
                assert!(json.get("trace_id").is_none(), "{line}");
                assert!(json.get("span_id").is_none(), "{line}");
            }
        }
    }
}

#[test]
fn tracing_text_lines_end_with_the_ids_of_their_span() {
    let run = run(log_lines(), &[], &[("LOG_MODE", "tracing-text")]);
    assert!(run.status.success(), "{run}");
    let places = places(&run);
    check_places(&places, &run);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), INSIDE.len() + OUTSIDE.len(), "{run}");
    for place in INSIDE {
        let line = line_of(&lines, place, &run);
        let (trace, span) = &places[place];
        assert!(
            line.ends_with(&format!(" trace_id={trace} span_id={span}")),
            "{line}{run}"
        );
        assert!(
            line.contains(" INFO ") && line.contains("order=7"),
            "{line}"
        );
    }
    for place in OUTSIDE {
        let line = line_of(&lines, place, &run);
        assert!(
            !line.contains("trace_id") && !line.contains("span_id"),
            "{line}"
        );
    }
}

#[test]
fn env_logger_lines_carry_the_ids_as_key_values() {
    let run = run(log_lines(), &[], &[("LOG_MODE", "env_logger")]);
    assert!(run.status.success(), "{run}");
    let places = places(&run);
    check_places(&places, &run);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), INSIDE.len() + OUTSIDE.len(), "{run}");
    for place in INSIDE {
        let line = line_of(&lines, place, &run);
        let (trace, span) = &places[place];
        assert!(
            line.contains(&format!("trace_id={trace}"))
                && line.contains(&format!("span_id={span}")),
            "{line}{run}"
        );
        assert!(
            line.contains("order=7"),
            "the record's own key-values stay: {line}"
        );
    }
    for place in OUTSIDE {
        let line = line_of(&lines, place, &run);
        assert!(
            !line.contains("trace_id") && !line.contains("span_id"),
            "{line}"
        );
    }
}

// ---------------------------------------------------------------------------
// OTLP logs and metrics through rotel.

/// One call of `signals_app`, as it printed it.
#[derive(Debug)]
struct Call {
    trace_id: String,
    span_id: String,
    outcome: String,
}

fn calls(run: &Run) -> BTreeMap<u64, Call> {
    run.stdout
        .lines()
        .filter_map(|line| {
            let mut words = line.strip_prefix("CALL ")?.split_whitespace();
            let i = words.next()?.parse().ok()?;
            Some((
                i,
                Call {
                    trace_id: words.next()?.to_string(),
                    span_id: words.next()?.to_string(),
                    outcome: words.next()?.to_string(),
                },
            ))
        })
        .collect()
}

/// The X-Ray form of 16 bytes.
fn xray_id(bytes: &[u8]) -> String {
    xray_collector_tests::xray_trace_id(bytes).unwrap_or_else(|| hex(bytes))
}

fn string_attr<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| match &v.value {
            Some(any_value::Value::StringValue(s)) => Some(s.as_str()),
            _ => None,
        })
}

fn int_attr(attributes: &[KeyValue], key: &str) -> Option<i64> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| match v.value {
            Some(any_value::Value::IntValue(i)) => Some(i),
            _ => None,
        })
}

fn body(record: &LogRecord) -> &str {
    match record
        .body
        .as_ref()
        .and_then(|b: &AnyValue| b.value.as_ref())
    {
        Some(any_value::Value::StringValue(s)) => s,
        _ => "",
    }
}

/// Every log record, with its resource's `service.name`.
fn records(resource_logs: &[ResourceLogs]) -> Vec<(String, LogRecord)> {
    resource_logs
        .iter()
        .flat_map(|rl| {
            let service = rl
                .resource
                .as_ref()
                .and_then(|r| string_attr(&r.attributes, "service.name"))
                .unwrap_or_default()
                .to_string();
            rl.scope_logs.iter().flat_map(move |sl| {
                sl.log_records.iter().map({
                    let service = service.clone();
                    move |r| (service.clone(), r.clone())
                })
            })
        })
        .collect()
}

/// Every histogram point of metric `name`, with its resource's `service.name`.
fn points(resource_metrics: &[ResourceMetrics], name: &str) -> Vec<(String, HistogramDataPoint)> {
    let mut out = Vec::new();
    for rm in resource_metrics {
        let service = rm
            .resource
            .as_ref()
            .and_then(|r| string_attr(&r.attributes, "service.name"))
            .unwrap_or_default();
        for sm in &rm.scope_metrics {
            for metric in sm.metrics.iter().filter(|m| m.name == name) {
                assert_eq!(metric.unit, "s", "{metric:?}");
                if let Some(metric::Data::Histogram(histogram)) = &metric.data {
                    for point in &histogram.data_points {
                        out.push((service.to_string(), point.clone()));
                    }
                }
            }
        }
    }
    out
}

/// The total count of the points whose attributes include `with`.
fn count_with(points: &[(String, HistogramDataPoint)], with: &[(&str, &str)]) -> u64 {
    points
        .iter()
        .filter(|(_, p)| {
            with.iter().all(|(k, v)| {
                string_attr(&p.attributes, k) == Some(v)
                    || int_attr(&p.attributes, k).is_some_and(|i| i.to_string() == *v)
            })
        })
        .map(|(_, p)| p.count)
        .sum()
}

const CALLS: u64 = 6;

/// Runs `signals_app` against rotel and checks all three signals.
fn through_rotel(protocol: &str, endpoint: impl Fn(&Rotel) -> String) {
    let sink = Sink::start().expect("the OTLP sink should start");
    let rotel = Rotel::start(&sink.endpoint()).expect("rotel should start");
    let endpoint = endpoint(&rotel);
    let run = run(
        signals_app(),
        &[],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            // Nothing is due before exit: what arrives, the exit sent.
            ("OTEL_BLRP_SCHEDULE_DELAY", "600000"),
            ("OTEL_BSP_SCHEDULE_DELAY", "600000"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "600000"),
        ],
    );
    assert!(run.status.success(), "{run}");
    assert!(run.elapsed < Duration::from_secs(20), "{run}");
    let calls = calls(&run);
    assert_eq!(calls.len() as u64, CALLS, "{run}");

    let arrived = sink.wait_until(Duration::from_secs(20), |spans, logs, metrics| {
        flatten(spans).len() as u64 >= 4 * CALLS
            && records(logs).len() as u64 >= 3 * CALLS
            && points(metrics, "http.client.request.duration").len() as u64 >= 1
            && points(metrics, "xray.call.duration").len() >= 4
            && points(metrics, "http.server.request.duration").len() as u64 >= 1
    });
    let spans = flatten(&sink.resource_spans());
    let logs = records(&sink.resource_logs());
    let metrics = sink.resource_metrics();
    assert!(
        arrived,
        "not everything arrived through rotel: {} spans, {} log records, {} metrics{run}\n{}",
        spans.len(),
        logs.len(),
        metrics.len(),
        rotel.log()
    );
    // Late duplicates would arrive now.
    let spans = flatten(&{
        sink.settle(Duration::from_millis(500), Duration::from_secs(3));
        sink.resource_spans()
    });
    let logs = records(&sink.resource_logs());
    let metrics = sink.resource_metrics();

    check_logs(&calls, &spans, &logs, &run);
    check_metrics(&calls, &spans, &metrics, &run);
}

fn check_logs(
    calls: &BTreeMap<u64, Call>,
    spans: &[ReceivedSpan],
    logs: &[(String, LogRecord)],
    run: &Run,
) {
    assert_eq!(
        logs.len() as u64,
        3 * CALLS,
        "exactly three records per call{run}"
    );
    for (service, _) in logs {
        assert_eq!(service, "signals-app");
    }
    for (i, call) in calls {
        // Written in `handle`: its trace and span ids.
        for (message, severity) in [
            (format!("handling call {i}"), "INFO"),
            (format!("via log {i}"), "WARN"),
        ] {
            let found: Vec<&LogRecord> = logs
                .iter()
                .map(|(_, r)| r)
                .filter(|r| body(r) == message)
                .collect();
            assert_eq!(found.len(), 1, "one record {message:?}{run}");
            let record = found[0];
            assert_eq!(xray_id(&record.trace_id), call.trace_id, "{record:?}");
            assert_eq!(hex(&record.span_id), call.span_id, "{record:?}");
            assert_eq!(record.severity_text, severity);
            assert_eq!(record.flags & 1, 1, "sampled: {record:?}");
            assert_eq!(
                int_attr(&record.attributes, "call"),
                Some(*i as i64),
                "{record:?}"
            );
            assert!(record.time_unix_nano > 0);
        }
        // Written by the server, in the server span of this call's trace.
        let server_span = spans
            .iter()
            .find(|s| {
                s.xray_trace_id().as_deref() == Some(call.trace_id.as_str())
                    && s.name() == "GET /items/{id}"
            })
            .unwrap_or_else(|| panic!("the server span of call {i}{run}"));
        let served: Vec<&LogRecord> = logs
            .iter()
            .map(|(_, r)| r)
            .filter(|r| {
                body(r) == "serving item" && int_attr(&r.attributes, "item") == Some(*i as i64)
            })
            .collect();
        assert_eq!(served.len(), 1, "{run}");
        assert_eq!(served[0].trace_id, server_span.span.trace_id);
        assert_eq!(served[0].span_id, server_span.span.span_id);
    }
}

fn check_metrics(
    calls: &BTreeMap<u64, Call>,
    spans: &[ReceivedSpan],
    metrics: &[ResourceMetrics],
    run: &Run,
) {
    let handle = points(metrics, "xray.call.duration");
    for (service, _) in &handle {
        assert_eq!(service, "signals-app");
    }
    let function = [("code.function.name", "signals_app::handle")];
    for outcome in ["ok", "error", "fault"] {
        let made = calls.values().filter(|c| c.outcome == outcome).count() as u64;
        assert_eq!(
            count_with(&handle, &[function[0], ("xray.outcome", outcome)]),
            made,
            "{outcome} calls of handle{run}"
        );
    }
    assert_eq!(
        count_with(
            &handle,
            &[
                ("code.function.name", "signals_app::compute"),
                ("xray.outcome", "ok")
            ]
        ),
        CALLS
    );
    let server = points(metrics, "http.server.request.duration");
    assert_eq!(
        count_with(
            &server,
            &[
                ("http.request.method", "GET"),
                ("http.route", "/items/{id}"),
                ("http.response.status_code", "200"),
                ("url.scheme", "http"),
            ]
        ),
        CALLS,
        "{server:?}"
    );
    let client = points(metrics, "http.client.request.duration");
    assert_eq!(
        count_with(
            &client,
            &[
                ("http.request.method", "GET"),
                ("server.address", "127.0.0.1"),
                ("http.response.status_code", "200"),
            ]
        ),
        CALLS,
        "{client:?}"
    );
    // Each bucket's exemplar is a span of this run: a `handle` call's
    // for `handle`, a server span for the server.
    let handle_spans: HashSet<(String, String)> = calls
        .values()
        .map(|c| (c.trace_id.clone(), c.span_id.clone()))
        .collect();
    let span_ids: HashSet<(String, String)> = spans
        .iter()
        .map(|s| (s.xray_trace_id().unwrap_or_default(), s.span_id_hex()))
        .collect();
    let mut exemplars = 0;
    for (_, point) in handle
        .iter()
        .filter(|(_, p)| string_attr(&p.attributes, "code.function.name") == function[0].1.into())
    {
        assert_eq!(point.bucket_counts.iter().sum::<u64>(), point.count);
        for exemplar in &point.exemplars {
            exemplars += 1;
            let ids = (xray_id(&exemplar.trace_id), hex(&exemplar.span_id));
            assert!(
                handle_spans.contains(&ids),
                "{ids:?} is not a handle call{run}"
            );
        }
    }
    assert!(exemplars > 0, "handle's points carry exemplars{run}");
    for (_, point) in &server {
        assert!(!point.exemplars.is_empty(), "{point:?}");
        for exemplar in &point.exemplars {
            let ids = (xray_id(&exemplar.trace_id), hex(&exemplar.span_id));
            assert!(span_ids.contains(&ids), "{ids:?} is not a span of the run");
        }
    }
}

#[test]
fn logs_and_metrics_through_rotel_over_http_line_up_with_the_spans() {
    through_rotel("http/protobuf", Rotel::http_endpoint);
}

#[test]
fn logs_and_metrics_through_rotel_over_grpc_line_up_with_the_spans() {
    through_rotel("grpc", Rotel::grpc_endpoint);
}

// ---------------------------------------------------------------------------
// Straight to CloudWatch Logs.

const ACCESS_KEY: &str = "AKIDXRAYTESTS";
const SECRET_KEY: &str = "xray/secret+test/key";
const SESSION_TOKEN: &str = "xray-session-token";
const REGION: &str = "eu-west-1";

/// A CloudWatch Logs-like endpoint: TLS, SigV4 for `logs` checked by botocore.
fn cloudwatch(certs: &Certs, dir: &std::path::Path) -> Peer {
    let sigv4 = format!("{ACCESS_KEY}:{SECRET_KEY}:{SESSION_TOKEN}");
    Peer::start(
        "otlp_receiver.py",
        dir,
        &[
            "--tls-cert",
            &certs.file("server.pem"),
            "--tls-key",
            &certs.file("server-key.pem"),
            "--sigv4",
            &sigv4,
            "--expect-service",
            "logs",
            "--expect-region",
            REGION,
        ],
    )
}

fn aws_env(ca: &str) -> Vec<(&'static str, String)> {
    vec![
        ("OTEL_TRACES_EXPORTER", "none".into()),
        ("OTEL_METRICS_EXPORTER", "none".into()),
        ("OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE", ca.into()),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip".into()),
        ("XRAY_OTLP_SIGV4", "true".into()),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
        ("AWS_SESSION_TOKEN", SESSION_TOKEN.into()),
        ("AWS_REGION", REGION.into()),
    ]
}

fn borrow<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Checks that every request reached CloudWatch Logs' path signed, over
/// TLS, gzip-compressed, into `group` and `stream`, and that the records
/// carry the ids of the calls.
fn check_cloudwatch(records: &[Json], group: &str, stream: &str, run: &Run) {
    assert!(!records.is_empty(), "nothing arrived{run}");
    let mut logs = Vec::new();
    for record in records {
        assert_eq!(record["path"], "/v1/logs", "{record}");
        assert_eq!(record["sigv4"]["ok"], true, "{record}{run}");
        assert_eq!(record["sigv4"]["service"], "logs", "{record}");
        assert_eq!(record["sigv4"]["region"], REGION, "{record}");
        assert_eq!(record["tls"], true, "{record}");
        assert_eq!(record["compressed"], true, "{record}");
        assert_eq!(record["status"], 200, "{record}");
        assert_eq!(record["headers"]["x-aws-log-group"], group, "{record}");
        assert_eq!(record["headers"]["x-aws-log-stream"], stream, "{record}");
        assert_eq!(record["headers"]["x-amz-security-token"], SESSION_TOKEN);
        assert_eq!(record["resource_attributes"]["service.name"], "signals-app");
        logs.extend(record["logs"].as_array().cloned().unwrap_or_default());
    }
    for (i, call) in calls(run) {
        let trace_hex = call.trace_id.replace('-', "")[1..].to_string();
        let handling: Vec<&Json> = logs
            .iter()
            .filter(|l| l["body"] == format!("handling call {i}"))
            .collect();
        assert_eq!(handling.len(), 1, "{run}");
        assert_eq!(handling[0]["trace_id"], trace_hex.as_str());
        assert_eq!(handling[0]["span_id"], call.span_id.as_str());
    }
    assert_eq!(logs.len() as u64, 3 * CALLS, "{run}");
}

#[test]
fn logs_go_to_cloudwatch_logs_signed_into_their_group_and_stream() {
    let dir = scratch("cloudwatch");
    let certs = Certs::generate(&dir);
    let receiver = cloudwatch(&certs, &dir);
    let endpoint = format!("https://127.0.0.1:{}/v1/logs", receiver.port());
    let mut env = aws_env(&certs.file("ca.pem"));
    env.extend([
        ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", endpoint),
        (
            "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
            "x-aws-log-group=/xray/tests,x-aws-log-stream=from-env".into(),
        ),
    ]);
    let from_env = run(signals_app(), &[], &borrow(&env));
    assert!(from_env.status.success(), "{from_env}");
    check_cloudwatch(&receiver.records(), "/xray/tests", "from-env", &from_env);

    // The group and stream from the code (`Config::cloudwatch_logs`), the
    // endpoint redirected by the variable.
    let dir = scratch("cloudwatch-code");
    let receiver = cloudwatch(&certs, &dir);
    let mut env = aws_env(&certs.file("ca.pem"));
    env.extend([
        (
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
            format!("https://127.0.0.1:{}/v1/logs", receiver.port()),
        ),
        ("APP_LOG_GROUP", "/xray/code".into()),
        ("APP_LOG_STREAM", "web-1".into()),
    ]);
    let from_code = run(signals_app(), &[], &borrow(&env));
    assert!(from_code.status.success(), "{from_code}");
    check_cloudwatch(&receiver.records(), "/xray/code", "web-1", &from_code);
}

#[test]
fn a_cloudwatch_endpoint_that_is_down_costs_the_exit_no_more_than_the_timeout() {
    let dir = scratch("cloudwatch-down");
    let certs = Certs::generate(&dir);
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut env = aws_env(&certs.file("ca.pem"));
    env.extend([
        (
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
            format!("https://127.0.0.1:{closed}/v1/logs"),
        ),
        ("APP_LOG_GROUP", "/xray/down".into()),
        ("OTEL_BSP_EXPORT_TIMEOUT", "1500".into()),
        ("OTEL_BLRP_SCHEDULE_DELAY", "600000".into()),
    ]);
    let down = run(signals_app(), &[], &borrow(&env));
    assert!(down.status.success(), "{down}");
    assert!(down.elapsed < Duration::from_secs(6), "{down}");
    assert!(
        down.stderr.contains(&format!(
            "at shutdown: log records 0 exported, {} lost",
            3 * CALLS
        )),
        "{down}"
    );
}
