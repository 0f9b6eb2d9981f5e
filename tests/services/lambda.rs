//! AWS Lambda: one warm process, several invocations, each with its own
//! `_X_AMZN_TRACE_ID`. Each invocation continues its own trace, its spans are
//! exported before the next invocation starts (the export schedule is set to
//! a minute: only the per-invocation flush can get them out in time), and the
//! `Lineage` reaches the outgoing request.

use std::collections::HashMap;
use std::process::{Command, Stdio};

/// One line of `lambda_sim`'s output.
#[derive(Debug)]
enum Line {
    Begin(usize),
    Outgoing(usize, String),
    End(usize),
    Span(Span),
}

/// The fields of a JSON span line the test looks at.
#[derive(Debug, Clone)]
struct Span {
    trace_id: String,
    span_id: String,
    parent_span_id: Option<String>,
    parent_is_remote: bool,
    name: String,
    kind: String,
}

/// The string value of `"key":"..."` in a JSON line written by the json
/// exporter (ids and names here need no unescaping).
fn json_str<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let start = line.find(&format!("\"{key}\":\""))? + key.len() + 4;
    let len = line[start..].find('"')?;
    Some(&line[start..start + len])
}

fn parse(stdout: &str) -> Vec<Line> {
    stdout
        .lines()
        .filter_map(|line| {
            let number = |rest: &str| rest.split(' ').next().and_then(|k| k.parse().ok());
            if let Some(rest) = line.strip_prefix("BEGIN ") {
                return number(rest).map(Line::Begin);
            }
            if let Some(rest) = line.strip_prefix("END ") {
                return number(rest).map(Line::End);
            }
            if let Some(rest) = line.strip_prefix("OUTGOING ") {
                let (k, header) = rest.split_once(' ')?;
                return Some(Line::Outgoing(k.parse().ok()?, header.to_owned()));
            }
            if line.starts_with('{') {
                return Some(Line::Span(Span {
                    trace_id: json_str(line, "trace_id")?.to_owned(),
                    span_id: json_str(line, "span_id")?.to_owned(),
                    parent_span_id: json_str(line, "parent_span_id").map(str::to_owned),
                    parent_is_remote: line.contains("\"parent_is_remote\":true"),
                    name: json_str(line, "name")?.to_owned(),
                    kind: json_str(line, "kind")?.to_owned(),
                }));
            }
            None
        })
        .collect()
}

/// What one invocation produced: its spans, in the order they were printed
/// between its `BEGIN` and `END`, and its outgoing header.
#[derive(Debug, Default)]
struct Invocation {
    spans: Vec<Span>,
    outgoing: String,
}

/// Runs `lambda_sim` with one argument per invocation; returns each
/// invocation's spans, and fails if any span was printed outside the
/// invocation it belongs to.
fn run(mode: Option<&str>, propagators: Option<&str>, headers: &[&str]) -> Vec<Invocation> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lambda_sim"));
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("OTEL_") || key == "_X_AMZN_TRACE_ID" {
            command.env_remove(key);
        }
    }
    // A minute between scheduled exports: spans that show up at once were
    // flushed at the end of their invocation.
    command.env("OTEL_BSP_SCHEDULE_DELAY", "60000");
    if let Some(mode) = mode {
        command.env("LAMBDA_MODE", mode);
    }
    if let Some(propagators) = propagators {
        command.env("OTEL_PROPAGATORS", propagators);
    }
    let output = command
        .args(headers)
        .stdin(Stdio::null())
        .output()
        .expect("lambda_sim runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "lambda_sim failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );

    let mut invocations: Vec<Invocation> =
        (0..headers.len()).map(|_| Invocation::default()).collect();
    let mut open: Option<usize> = None;
    let mut ended = Vec::new();
    for line in parse(&stdout) {
        match line {
            Line::Begin(k) => {
                assert_eq!(open, None, "BEGIN {k} inside another invocation\n{stdout}");
                open = Some(k);
            }
            Line::End(k) => {
                assert_eq!(open, Some(k), "END {k} out of order\n{stdout}");
                open = None;
                ended.push(k);
            }
            Line::Outgoing(k, header) => invocations[k].outgoing = header,
            Line::Span(span) => {
                let k = open.unwrap_or_else(|| {
                    panic!("span {span:?} printed between invocations: not flushed in its own\n{stdout}")
                });
                invocations[k].spans.push(span);
            }
        }
    }
    assert_eq!(
        ended,
        (0..headers.len()).collect::<Vec<_>>(),
        "{stdout}\n{stderr}"
    );
    invocations
}

#[test]
fn each_invocation_is_its_own_trace_flushed_before_the_next() {
    let headers = [
        "Root=1-6a1b2c3d-000000000000000000000001;Parent=1111111111111111;Sampled=1",
        "Root=1-6a1b2c3d-000000000000000000000002;Parent=2222222222222222;Sampled=1;Lineage=a87bd80c:1|68fd508a:5",
        "Root=1-6a1b2c3d-000000000000000000000003;Parent=3333333333333333;Sampled=0",
        "not a trace header",
        "Root=1-6a1b2c3d-000000000000000000000005;Parent=5555555555555555;Sampled=1",
    ];
    let invocations = run(None, None, &headers);

    let mut traces = HashMap::new();
    for (k, invocation) in invocations.iter().enumerate() {
        let header = headers[k];
        let spans = &invocation.spans;
        if header.ends_with("Sampled=0") {
            assert!(spans.is_empty(), "invocation {k} is not sampled: {spans:?}");
            assert!(
                invocation
                    .outgoing
                    .starts_with("Root=1-6a1b2c3d-000000000000000000000003;Parent=")
                    && invocation.outgoing.ends_with(";Sampled=0"),
                "invocation {k} tells the next hop: {}",
                invocation.outgoing
            );
            continue;
        }
        assert_eq!(
            spans.len(),
            2,
            "invocation {k}: root and client span, flushed before END: {spans:?}"
        );
        let root = spans
            .iter()
            .find(|s| s.name == "invocation")
            .expect("the invocation span");
        let client = spans
            .iter()
            .find(|s| s.kind == "client")
            .expect("the client span");
        assert_eq!(
            client.parent_span_id.as_deref(),
            Some(root.span_id.as_str())
        );
        assert_eq!(client.trace_id, root.trace_id);
        assert_eq!(root.kind, "server");
        if let Some(expected) = header
            .strip_prefix("Root=")
            .and_then(|rest| rest.split(';').next())
        {
            assert_eq!(
                root.trace_id, expected,
                "invocation {k} continues its header's trace"
            );
            let parent = header.split(";Parent=").nth(1).map(|rest| &rest[..16]);
            assert_eq!(root.parent_span_id.as_deref(), parent, "invocation {k}");
            assert!(root.parent_is_remote);
        } else {
            assert!(
                root.parent_span_id.is_none(),
                "a bad header starts a fresh trace"
            );
        }
        // The outgoing header names the client span, canonically.
        let lineage = header.split(";Lineage=").nth(1);
        let expected = match lineage {
            Some(lineage) => format!(
                "Root={};Parent={};Sampled=1;Lineage={lineage}",
                root.trace_id, client.span_id
            ),
            None => format!("Root={};Parent={};Sampled=1", root.trace_id, client.span_id),
        };
        assert_eq!(invocation.outgoing, expected, "invocation {k}");
        assert!(
            traces.insert(root.trace_id.clone(), k).is_none(),
            "invocation {k} shares a trace"
        );
    }
    assert_eq!(traces.len(), 4);
}

#[test]
fn the_xray_lambda_propagator_prefers_the_environment() {
    let env_header = "Root=1-6a1b2c3d-00000000000000000000000a;Parent=aaaaaaaaaaaaaaaa;Sampled=1";
    let invocations = run(
        Some("propagator"),
        Some("xray-lambda"),
        &[env_header, "invalid"],
    );
    // A valid `_X_AMZN_TRACE_ID` wins over the event's header.
    let first = &invocations[0].spans;
    assert_eq!(first.len(), 2, "{first:?}");
    assert!(
        first
            .iter()
            .all(|s| s.trace_id == "1-6a1b2c3d-00000000000000000000000a")
    );
    let root = first.iter().find(|s| s.name == "invocation").expect("root");
    assert_eq!(root.parent_span_id.as_deref(), Some("aaaaaaaaaaaaaaaa"));
    // An invalid one falls back to the event's header.
    let second = &invocations[1].spans;
    assert_eq!(second.len(), 2, "{second:?}");
    assert!(
        second
            .iter()
            .all(|s| s.trace_id == "1-5759e988-bd862e3fe1be46a994272793")
    );
    assert!(
        invocations[1]
            .outgoing
            .starts_with("Root=1-5759e988-bd862e3fe1be46a994272793;")
    );
}
