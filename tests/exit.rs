//! Real processes: every span ended before a `#[xray_main]` program exits
//! reaches the exporter, whether `main` returns, returns `Err` or panics, and
//! a dead collector never keeps the program from exiting.
//!
//! Each test runs one of the `exit_*` binaries of this package with a
//! controlled environment and parses the JSON exporter's lines on its stdout.
//! The batch processor's schedule delay is set to ten minutes, so a span can
//! only be on stdout if the shutdown at exit flushed it.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::net::TcpListener;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long any child may run before it is killed and the test fails.
const CHILD_DEADLINE: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------
// Running a binary.

/// A finished child process.
struct Run {
    bin: &'static str,
    env: Vec<(String, String)>,
    status: ExitStatus,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "\n--- {} with {:?}", self.bin, self.env)?;
        writeln!(f, "--- status: {} after {:?}", self.status, self.elapsed)?;
        writeln!(f, "--- stdout:\n{}", self.stdout)?;
        writeln!(f, "--- stderr:\n{}", self.stderr)?;
        write!(f, "--- end of {}", self.bin)
    }
}

impl Run {
    fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

/// The binaries' paths, as Cargo built them for this test.
fn bin_path(bin: &str) -> &'static str {
    match bin {
        "exit_ok" => env!("CARGO_BIN_EXE_exit_ok"),
        "exit_err" => env!("CARGO_BIN_EXE_exit_err"),
        "exit_panic" => env!("CARGO_BIN_EXE_exit_panic"),
        "exit_tokio" => env!("CARGO_BIN_EXE_exit_tokio"),
        "exit_tokio_below" => env!("CARGO_BIN_EXE_exit_tokio_below"),
        "exit_dead_collector" => env!("CARGO_BIN_EXE_exit_dead_collector"),
        "exit_disabled" => env!("CARGO_BIN_EXE_exit_disabled"),
        other => panic!("no binary {other}"),
    }
}

/// Whether an inherited variable could change what the binaries do.
fn is_controlled(name: &OsString) -> bool {
    let name = name.to_string_lossy();
    name.starts_with("OTEL_") || name == "_X_AMZN_TRACE_ID" || name.starts_with("RUST_")
}

/// Runs `bin` with every inherited `OTEL_*` (and `_X_AMZN_TRACE_ID`,
/// `RUST_*`) variable removed, the batch processor's periodic export pushed
/// out of reach, and `env` on top. Kills the child after [`CHILD_DEADLINE`].
fn run(bin: &'static str, env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(bin_path(bin));
    for (name, _) in std::env::vars_os().filter(|(name, _)| is_controlled(name)) {
        command.env_remove(name);
    }
    command
        .env("OTEL_BSP_SCHEDULE_DELAY", "600000")
        .env("RUST_BACKTRACE", "0")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());

    let started = Instant::now();
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
    let stdout = drain(child.stdout.take().expect("piped stdout"));
    let stderr = drain(child.stderr.take().expect("piped stderr"));
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for the child") {
            break Some(status);
        }
        if started.elapsed() > CHILD_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(5));
    };
    let elapsed = started.elapsed();
    let stdout = stdout.join().expect("stdout reader");
    let stderr = stderr.join().expect("stderr reader");
    let env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    match status {
        Some(status) => Run {
            bin,
            env,
            status,
            stdout,
            stderr,
            elapsed,
        },
        None => panic!(
            "{bin} with {env:?} did not exit within {CHILD_DEADLINE:?} and was killed\n\
             --- stdout:\n{stdout}\n--- stderr:\n{stderr}"
        ),
    }
}

/// Reads a pipe to its end on another thread, so that neither pipe can fill
/// up and block the child.
fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

// ---------------------------------------------------------------------------
// A minimal JSON reader, enough for the exporter's lines.

#[derive(Clone, Debug, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    /// The number's text, as written.
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    fn parse(text: &str) -> Result<Json, String> {
        let mut parser = Parser {
            bytes: text.as_bytes(),
            text,
            at: 0,
        };
        let value = parser.value(0)?;
        parser.skip_ws();
        if parser.at != text.len() {
            return Err(parser.error("trailing characters"));
        }
        Ok(value)
    }

    /// The member `key` of an object; `None` for anything else.
    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => {
                let mut found = members.iter().filter(|(k, _)| k == key);
                let first = found.next().map(|(_, v)| v);
                assert!(found.next().is_none(), "duplicate key {key:?} in {self:?}");
                first
            }
            _ => None,
        }
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }
}

struct Parser<'a> {
    bytes: &'a [u8],
    text: &'a str,
    at: usize,
}

impl Parser<'_> {
    fn error(&self, what: &str) -> String {
        format!("{what} at byte {}", self.at)
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn expect(&mut self, byte: u8) -> Result<(), String> {
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.error(&format!("expected {:?}", byte as char)))
        }
    }

    fn literal(&mut self, word: &str, value: Json) -> Result<Json, String> {
        if self.text[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(value)
        } else {
            Err(self.error("unknown literal"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, String> {
        if depth > 64 {
            return Err(self.error("nested too deeply"));
        }
        self.skip_ws();
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Json::String),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.error("expected a value")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, String> {
        self.expect(b'{')?;
        let mut members = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Json::Object(members));
        }
        loop {
            self.skip_ws();
            let key = self.string()?;
            self.skip_ws();
            self.expect(b':')?;
            let value = self.value(depth + 1)?;
            members.push((key, value));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Json::Object(members));
                }
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json, String> {
        self.expect(b'[')?;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(Json::Array(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(Json::Array(items));
                }
                _ => return Err(self.error("expected ',' or ']'")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self
            .text
            .get(self.at..self.at + 4)
            .ok_or_else(|| self.error("short \\u escape"))?;
        let code = u32::from_str_radix(digits, 16).map_err(|_| self.error("bad \\u escape"))?;
        self.at += 4;
        Ok(code)
    }

    fn string(&mut self) -> Result<String, String> {
        self.expect(b'"')?;
        let mut out = String::new();
        loop {
            let rest = &self.text[self.at..];
            let Some(c) = rest.chars().next() else {
                return Err(self.error("unterminated string"));
            };
            self.at += c.len_utf8();
            match c {
                '"' => return Ok(out),
                '\\' => {
                    let escape = self.peek().ok_or_else(|| self.error("bad escape"))?;
                    self.at += 1;
                    match escape {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let mut code = self.hex4()?;
                            if (0xd800..0xdc00).contains(&code) {
                                self.expect(b'\\')?;
                                self.expect(b'u')?;
                                let low = self.hex4()?;
                                if !(0xdc00..0xe000).contains(&low) {
                                    return Err(self.error("unpaired surrogate"));
                                }
                                code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
                            }
                            out.push(
                                char::from_u32(code).ok_or_else(|| self.error("bad code point"))?,
                            );
                        }
                        _ => return Err(self.error("bad escape")),
                    }
                }
                c if u32::from(c) < 0x20 => return Err(self.error("raw control character")),
                c => out.push(c),
            }
        }
    }

    fn digits(&mut self) -> Result<(), String> {
        let start = self.at;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
        if self.at == start {
            return Err(self.error("expected digits"));
        }
        Ok(())
    }

    fn number(&mut self) -> Result<Json, String> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        if self.peek() == Some(b'0') {
            self.at += 1;
        } else {
            self.digits()?;
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            self.digits()?;
        }
        Ok(Json::Number(self.text[start..self.at].to_string()))
    }
}

#[test]
fn the_json_reader_is_strict() {
    let line = r#"{"a":[1,-2.5e3,true,null,"x\"\\\n\u00e9\ud83d\ude00"],"b":{}}"#;
    let value = Json::parse(line).expect("valid");
    assert_eq!(
        value.get("a"),
        Some(&Json::Array(vec![
            Json::Number("1".into()),
            Json::Number("-2.5e3".into()),
            Json::Bool(true),
            Json::Null,
            Json::String("x\"\\\né😀".into()),
        ]))
    );
    assert_eq!(value.get("b"), Some(&Json::Object(Vec::new())));
    for bad in [
        "", "{", "{\"a\"}", "[1,]", "01x", "\"a\nb\"", "{} {}", "nul", "\"\\x\"", "1.",
    ] {
        assert!(Json::parse(bad).is_err(), "{bad:?} accepted");
    }
}

// ---------------------------------------------------------------------------
// Spans as the JSON exporter writes them.

#[derive(Debug)]
struct Span {
    line: String,
    trace_id: String,
    otel_trace_id: String,
    span_id: String,
    parent_span_id: Option<String>,
    name: String,
    kind: String,
    status_code: String,
    status_message: Option<String>,
    attributes: Json,
    events: Vec<Json>,
    service: Option<String>,
}

impl Span {
    fn parse(line: &str) -> Result<Span, String> {
        let json = Json::parse(line)?;
        let field = |key: &str| json.get(key).ok_or(format!("no field {key:?}"));
        let string = |key: &str| {
            field(key)?
                .as_str()
                .map(str::to_string)
                .ok_or(format!("{key:?} is not a string"))
        };
        let nullable = |key: &str| match field(key)? {
            Json::Null => Ok(None),
            Json::String(s) => Ok(Some(s.clone())),
            other => Err(format!("{key:?} is {other:?}")),
        };
        let status = field("status")?;
        let status_code = status
            .get("code")
            .and_then(Json::as_str)
            .ok_or("no status code")?
            .to_string();
        let status_message = match status.get("message") {
            Some(Json::Null) => None,
            Some(Json::String(s)) => Some(s.clone()),
            other => return Err(format!("status message is {other:?}")),
        };
        let events = match field("events")? {
            Json::Array(events) => events.clone(),
            other => return Err(format!("events is {other:?}")),
        };
        let attributes = field("attributes")?.clone();
        if !matches!(attributes, Json::Object(_)) {
            return Err(format!("attributes is {attributes:?}"));
        }
        Ok(Span {
            line: line.to_string(),
            trace_id: string("trace_id")?,
            otel_trace_id: string("otel_trace_id")?,
            span_id: string("span_id")?,
            parent_span_id: nullable("parent_span_id")?,
            name: string("name")?,
            kind: string("kind")?,
            status_code,
            status_message,
            attributes,
            events,
            service: nullable("service")?,
        })
    }

    fn attribute(&self, key: &str) -> Option<&Json> {
        self.attributes.get(key)
    }
}

/// Every line of stdout as a span: the binaries print nothing else.
fn spans(run: &Run) -> Vec<Span> {
    assert!(
        run.stdout.is_empty() || run.stdout.ends_with('\n'),
        "stdout does not end with a newline{run}"
    );
    let spans: Vec<Span> = run
        .stdout
        .lines()
        .map(|line| {
            assert!(
                line.starts_with('{'),
                "stdout has a line that is not a span: {line:?}{run}"
            );
            Span::parse(line).unwrap_or_else(|e| panic!("bad span line ({e}): {line}{run}"))
        })
        .collect();
    let mut ids = HashSet::new();
    for span in &spans {
        assert!(
            is_hex(&span.span_id, 16) && span.span_id != "0000000000000000",
            "bad span id in {}{run}",
            span.line
        );
        assert!(
            ids.insert(span.span_id.clone()),
            "span id {} appears twice{run}",
            span.span_id
        );
        check_trace_id(span, run);
    }
    spans
}

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `1-xxxxxxxx-yyyyyyyyyyyyyyyyyyyyyyyy`, the same id as `otel_trace_id`.
fn check_trace_id(span: &Span, run: &Run) {
    let parts: Vec<&str> = span.trace_id.split('-').collect();
    assert!(
        parts.len() == 3 && parts[0] == "1" && is_hex(parts[1], 8) && is_hex(parts[2], 24),
        "trace id {:?} is not in X-Ray form{run}",
        span.trace_id
    );
    assert_eq!(
        format!("{}{}", parts[1], parts[2]),
        span.otel_trace_id,
        "X-Ray and OpenTelemetry trace ids differ in {}{run}",
        span.line
    );
}

/// Asserts that the spans are exactly `expected` (name, count), in any order.
fn assert_span_names(spans: &[Span], expected: &[(&str, usize)], run: &Run) {
    for (name, count) in expected {
        let found = spans.iter().filter(|s| s.name == *name).count();
        assert_eq!(
            found, *count,
            "span {name:?}: {found} instead of {count}{run}"
        );
    }
    let total: usize = expected.iter().map(|(_, count)| count).sum();
    assert_eq!(spans.len(), total, "unexpected spans{run}");
}

/// The one span named `name`.
fn one<'a>(spans: &'a [Span], name: &str, run: &Run) -> &'a Span {
    let mut found = spans.iter().filter(|s| s.name == name);
    let span = found
        .next()
        .unwrap_or_else(|| panic!("no span {name:?}{run}"));
    assert!(found.next().is_none(), "span {name:?} appears twice{run}");
    span
}

fn assert_root(span: &Span, run: &Run) {
    assert_eq!(
        span.parent_span_id, None,
        "{} should be a root{run}",
        span.name
    );
    assert_eq!(span.kind, "server", "{} kind{run}", span.name);
}

fn assert_child_of(child: &Span, parent: &Span, run: &Run) {
    assert_eq!(
        child.parent_span_id.as_deref(),
        Some(parent.span_id.as_str()),
        "{} should be a child of {}{run}",
        child.name,
        parent.name
    );
    assert_eq!(
        child.trace_id, parent.trace_id,
        "{} is not in the trace of its parent {}{run}",
        child.name, parent.name
    );
    assert_eq!(child.kind, "internal", "{} kind{run}", child.name);
}

fn assert_unset(span: &Span, run: &Run) {
    assert_eq!(
        (span.status_code.as_str(), span.status_message.as_deref()),
        ("unset", None),
        "{} status{run}",
        span.name
    );
    assert!(span.events.is_empty(), "{} has events{run}", span.name);
}

fn assert_service(spans: &[Span], service: &str, run: &Run) {
    for span in spans {
        assert_eq!(
            span.service.as_deref(),
            Some(service),
            "service of {}{run}",
            span.name
        );
    }
}

fn assert_exit_code(run: &Run, code: i32) {
    assert_eq!(run.code(), Some(code), "exit code{run}");
}

/// The single `exception` event of a span.
fn exception<'a>(span: &'a Span, run: &Run) -> &'a Json {
    assert_eq!(span.events.len(), 1, "events of {}{run}", span.name);
    let event = &span.events[0];
    assert_eq!(
        event.get("name").and_then(Json::as_str),
        Some("exception"),
        "event of {}{run}",
        span.name
    );
    event
        .get("attributes")
        .unwrap_or_else(|| panic!("exception event without attributes{run}"))
}

fn number(value: Option<&Json>) -> Option<&str> {
    match value {
        Some(Json::Number(n)) => Some(n),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Normal return.

/// The five spans of `exit_ok`: a root, a sync chain three levels deep and an
/// async branch with a sync child, all in one trace.
fn check_exit_ok_spans(run: &Run, service: &str) {
    assert_exit_code(run, 0);
    let spans = spans(run);
    assert_span_names(
        &spans,
        &[
            ("ok_handle_request", 1),
            ("ok_load_order", 1),
            ("ok_query_db", 1),
            ("ok_notify_customer", 1),
            ("ok_send_email", 1),
        ],
        run,
    );
    let root = one(&spans, "ok_handle_request", run);
    let load = one(&spans, "ok_load_order", run);
    let query = one(&spans, "ok_query_db", run);
    let notify = one(&spans, "ok_notify_customer", run);
    let email = one(&spans, "ok_send_email", run);
    assert_root(root, run);
    assert_child_of(load, root, run);
    assert_child_of(query, load, run);
    assert_child_of(notify, root, run);
    assert_child_of(email, notify, run);
    for span in &spans {
        assert_eq!(span.trace_id, root.trace_id, "one trace{run}");
        assert_unset(span, run);
    }
    assert_service(&spans, service, run);
    assert_eq!(number(root.attribute("order")), Some("7"), "order{run}");
    assert_eq!(number(query.attribute("order")), Some("7"), "order{run}");
    assert_eq!(number(notify.attribute("total")), Some("15"), "total{run}");
    assert_eq!(number(email.attribute("total")), Some("15"), "total{run}");
}

#[test]
fn normal_return_flushes_every_span() {
    let run = run("exit_ok", &[]);
    check_exit_ok_spans(&run, "exit-test");
    assert!(
        run.stderr.is_empty(),
        "nothing on stderr when the exporter is chosen in code{run}"
    );
}

#[test]
fn service_name_variable_overrides_the_code() {
    let run = run("exit_ok", &[("OTEL_SERVICE_NAME", "overridden")]);
    check_exit_ok_spans(&run, "overridden");
}

#[test]
fn exporter_variable_none_silences_the_json_exporter() {
    let run = run("exit_ok", &[("OTEL_TRACES_EXPORTER", "none")]);
    assert_exit_code(&run, 0);
    assert_eq!(run.stdout, "", "no span may be exported{run}");
}

#[test]
fn exporter_variable_json_is_honoured_when_the_code_says_otlp() {
    // The dead-collector binary asks for OTLP in code; the variable wins.
    let run = run(
        "exit_dead_collector",
        &[
            ("OTEL_TRACES_EXPORTER", "json"),
            ("OTEL_SERVICE_NAME", "from-env"),
        ],
    );
    assert_exit_code(&run, 0);
    let spans = spans(&run);
    assert_span_names(&spans, &[("dead_request", 20), ("dead_query", 20)], &run);
    assert_service(&spans, "from-env", &run);
    for query in spans.iter().filter(|s| s.name == "dead_query") {
        let request = query.attribute("request");
        let parent = spans
            .iter()
            .find(|s| Some(&s.span_id) == query.parent_span_id.as_ref())
            .unwrap_or_else(|| panic!("parent of {}{run}", query.line));
        assert_eq!(parent.name, "dead_request", "{}{run}", query.line);
        assert_eq!(parent.attribute("request"), request, "{}{run}", query.line);
        assert_child_of(query, parent, &run);
    }
    let traces: HashSet<&str> = spans.iter().map(|s| s.trace_id.as_str()).collect();
    assert_eq!(traces.len(), 20, "one trace per request{run}");
}

// ---------------------------------------------------------------------------
// `Err` from main.

#[test]
fn error_return_flushes_every_span_with_the_error() {
    let run = run("exit_err", &[]);
    assert_exit_code(&run, 1);
    assert!(
        run.stderr.contains("Error: JobError { row: 2 }"),
        "main's error is reported by the standard library{run}"
    );
    let spans = spans(&run);
    assert_span_names(
        &spans,
        &[
            ("err_run_job", 1),
            ("err_fetch_rows", 1),
            ("err_validate", 1),
            ("err_check_row", 1),
        ],
        &run,
    );
    let job = one(&spans, "err_run_job", &run);
    let fetch = one(&spans, "err_fetch_rows", &run);
    let validate = one(&spans, "err_validate", &run);
    let check = one(&spans, "err_check_row", &run);
    assert_root(job, &run);
    assert_child_of(fetch, job, &run);
    assert_child_of(validate, job, &run);
    assert_child_of(check, validate, &run);
    assert_unset(fetch, &run);
    assert_service(&spans, "exit-err", &run);
    assert_eq!(
        job.attribute("job").and_then(Json::as_str),
        Some("batch-42"),
        "job{run}"
    );
    for failed in [job, validate, check] {
        assert_eq!(
            (
                failed.status_code.as_str(),
                failed.status_message.as_deref()
            ),
            ("error", Some("row 2 failed validation")),
            "status of {}{run}",
            failed.name
        );
    }
    // The error is recorded as an exception once, where it arose; the levels
    // it bubbled through point at that span.
    let attributes = exception(check, &run);
    assert!(
        attributes
            .get("exception.type")
            .and_then(Json::as_str)
            .is_some_and(|t| t.ends_with("JobError")),
        "exception.type of err_check_row{run}"
    );
    assert_eq!(
        attributes.get("exception.message").and_then(Json::as_str),
        Some("row 2 failed validation"),
        "exception.message of err_check_row{run}"
    );
    for bubbled in [job, validate] {
        assert!(
            bubbled.events.is_empty(),
            "{} does not repeat the exception event{run}",
            bubbled.name
        );
        assert_eq!(
            bubbled
                .attribute(xray_runtime::EXCEPTION_ORIGIN_KEY)
                .and_then(Json::as_str),
            Some(check.span_id.as_str()),
            "{} points at the span holding the event{run}",
            bubbled.name
        );
    }
}

// ---------------------------------------------------------------------------
// Panic.

#[test]
fn panic_flushes_every_span_with_the_panic() {
    let run = run("exit_panic", &[]);
    assert_exit_code(&run, 101);
    assert!(
        run.stderr.contains("boom: item 3 is corrupt"),
        "the default panic message is still printed{run}"
    );
    let spans = spans(&run);
    assert_span_names(
        &spans,
        &[
            ("panic_warm_up", 1),
            ("panic_prepare_cache", 1),
            ("panic_process_batch", 1),
            ("panic_step_one", 1),
            ("panic_explode", 1),
        ],
        &run,
    );
    let warm = one(&spans, "panic_warm_up", &run);
    let prepare = one(&spans, "panic_prepare_cache", &run);
    let batch = one(&spans, "panic_process_batch", &run);
    let step = one(&spans, "panic_step_one", &run);
    let explode = one(&spans, "panic_explode", &run);
    assert_root(warm, &run);
    assert_child_of(prepare, warm, &run);
    assert_root(batch, &run);
    assert_child_of(step, batch, &run);
    assert_child_of(explode, batch, &run);
    assert_ne!(warm.trace_id, batch.trace_id, "two traces{run}");
    for fine in [warm, prepare, step] {
        assert_unset(fine, &run);
    }
    assert_service(&spans, "exit-panic", &run);
    for panicked in [explode, batch] {
        assert_eq!(
            (
                panicked.status_code.as_str(),
                panicked.status_message.as_deref()
            ),
            ("error", Some("panicked")),
            "status of {}{run}",
            panicked.name
        );
        let attributes = exception(panicked, &run);
        assert_eq!(
            attributes.get("exception.type").and_then(Json::as_str),
            Some("panic"),
            "exception.type of {}{run}",
            panicked.name
        );
        assert_eq!(
            attributes.get("exception.message").and_then(Json::as_str),
            Some("boom: item 3 is corrupt"),
            "exception.message of {}{run}",
            panicked.name
        );
        assert_eq!(
            attributes.get("exception.escaped"),
            Some(&Json::Bool(true)),
            "exception.escaped of {}{run}",
            panicked.name
        );
        assert!(
            attributes
                .get("code.file.path")
                .and_then(Json::as_str)
                .is_some_and(|p| p.ends_with("exit_panic.rs")),
            "code.file.path of {}{run}",
            panicked.name
        );
        assert!(
            number(attributes.get("code.line.number")).is_some(),
            "code.line.number of {}{run}",
            panicked.name
        );
    }
}

// ---------------------------------------------------------------------------
// Tokio.

/// Three `worker` roots, each with one `fetch` child of the same id, each
/// pair in its own trace.
fn check_workers(run: &Run, spans: &[Span], worker: &str, fetch: &str) {
    let mut traces = HashSet::new();
    for id in 0..3 {
        let id = id.to_string();
        let with_id = |name: &str| -> &Span {
            let mut found = spans
                .iter()
                .filter(|s| s.name == name && number(s.attribute("id")) == Some(id.as_str()));
            let span = found
                .next()
                .unwrap_or_else(|| panic!("no {name} with id {id}{run}"));
            assert!(found.next().is_none(), "two {name} with id {id}{run}");
            span
        };
        let root = with_id(worker);
        let child = with_id(fetch);
        assert_root(root, run);
        assert_child_of(child, root, run);
        assert_unset(root, run);
        assert_unset(child, run);
        assert!(
            traces.insert(root.trace_id.clone()),
            "workers share a trace{run}"
        );
    }
}

#[test]
fn xray_main_above_tokio_main_flushes_spawned_tasks_spans() {
    let run = run("exit_tokio", &[]);
    assert_exit_code(&run, 0);
    let spans = spans(&run);
    assert_span_names(
        &spans,
        &[
            ("tokio_worker", 3),
            ("tokio_fetch", 3),
            ("tokio_abandoned", 1),
        ],
        &run,
    );
    check_workers(&run, &spans, "tokio_worker", "tokio_fetch");
    // The runtime dropped this task when main returned; the guard outlives
    // the runtime, so the cancelled span is still flushed.
    let abandoned = one(&spans, "tokio_abandoned", &run);
    assert_root(abandoned, &run);
    assert_eq!(
        abandoned.attribute("xray.cancelled"),
        Some(&Json::Bool(true)),
        "an abandoned task's span is marked cancelled{run}"
    );
    assert_service(&spans, "exit-tokio", &run);
}

#[test]
fn tokio_main_above_xray_main_flushes_even_abandoned_tasks_spans() {
    let run = run("exit_tokio_below", &[]);
    assert_exit_code(&run, 0);
    let spans = spans(&run);
    assert_span_names(
        &spans,
        &[
            ("below_worker", 3),
            ("below_fetch", 3),
            ("below_abandoned", 1),
        ],
        &run,
    );
    check_workers(&run, &spans, "below_worker", "below_fetch");
    // The runtime dropped this task when main returned, before the guard
    // (outside the runtime) shut the provider down.
    let abandoned = one(&spans, "below_abandoned", &run);
    assert_root(abandoned, &run);
    assert_eq!(
        abandoned.attribute("xray.cancelled"),
        Some(&Json::Bool(true)),
        "an abandoned task's span is marked cancelled{run}"
    );
    assert_service(&spans, "exit-tokio-below", &run);
}

// ---------------------------------------------------------------------------
// A collector that is not there.

/// A port on 127.0.0.1 that nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// Exit code 0, promptly, no panic, nothing on stdout, a short report on stderr.
fn check_dead_collector_run(run: &Run) {
    assert_exit_code(run, 0);
    assert!(
        run.elapsed < Duration::from_secs(10),
        "took {:?} to exit{run}",
        run.elapsed
    );
    assert_eq!(run.stdout, "", "nothing on stdout{run}");
    assert!(!run.stderr.contains("panicked"), "no panic{run}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert!(
        !lines.is_empty() && lines.len() <= 4,
        "the failure is reported in one to four lines{run}"
    );
    for line in &lines {
        assert!(
            line.starts_with("xray: "),
            "stderr line not from xray: {line:?}{run}"
        );
    }
    assert!(
        lines.iter().any(|line| line.contains("spans")),
        "the report says that spans were not delivered{run}"
    );
    // Shown with --nocapture, for the record.
    println!(
        "{} {:?} exited in {:?}; stderr:\n{}",
        run.bin, run.env, run.elapsed, run.stderr
    );
}

fn dead_collector(protocol: &'static str, endpoint: &str) -> Run {
    run(
        "exit_dead_collector",
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
        ],
    )
}

#[test]
fn refused_http_collector_does_not_block_exit() {
    let endpoint = format!("http://127.0.0.1:{}", closed_port());
    let run = dead_collector("http/protobuf", &endpoint);
    check_dead_collector_run(&run);
}

#[test]
fn refused_grpc_collector_does_not_block_exit() {
    let endpoint = format!("http://127.0.0.1:{}", closed_port());
    let run = dead_collector("grpc", &endpoint);
    check_dead_collector_run(&run);
}

/// A collector that accepts connections (the kernel completes the handshake)
/// but never answers: only the shutdown timeout can end the export.
fn hung_collector(protocol: &'static str) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let endpoint = format!("http://{}", listener.local_addr().expect("local address"));
    let run = dead_collector(protocol, &endpoint);
    drop(listener);
    check_dead_collector_run(&run);
}

#[test]
fn hung_http_collector_does_not_block_exit() {
    hung_collector("http/protobuf");
}

#[test]
fn hung_grpc_collector_does_not_block_exit() {
    hung_collector("grpc");
}

// ---------------------------------------------------------------------------
// Disabled.

#[test]
fn sdk_disabled_exports_and_records_nothing() {
    let run = run(
        "exit_disabled",
        &[
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_TRACES_EXPORTER", "json"),
        ],
    );
    assert_exit_code(&run, 0);
    assert_eq!(run.stdout, "", "nothing on stdout{run}");
    assert_eq!(run.stderr, "", "no span is current, nothing reported{run}");
}

#[test]
fn sdk_enabled_control_for_the_disabled_binary() {
    // The same binary, not disabled: proves the test above is not vacuous.
    let run = run(
        "exit_disabled",
        &[
            ("OTEL_SDK_DISABLED", "false"),
            ("OTEL_TRACES_EXPORTER", "json"),
        ],
    );
    assert_exit_code(&run, 0);
    let spans = spans(&run);
    assert_span_names(&spans, &[("disabled_root", 1), ("disabled_child", 1)], &run);
    let root = one(&spans, "disabled_root", &run);
    let child = one(&spans, "disabled_child", &run);
    assert_root(root, &run);
    assert_child_of(child, root, &run);
    assert_service(&spans, "exit-disabled", &run);
    assert!(
        run.stderr.contains(&format!(
            "span current in disabled_child: trace {}",
            root.trace_id
        )),
        "the binary sees the span{run}"
    );
}
