//! Malformed, oversized and hostile `X-Amzn-Trace-Id` headers, sent over
//! real sockets to a server traced with `XrayLayer`: each gets a normal
//! answer (no 500) in a fresh trace, and nothing of the bad value comes back.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use xray_runtime::testing::{self, Capture, FinishedSpan};
use xray_services_tests::{Server, XRAY, is_xray_trace_id, store};

/// The trace id some hostile values try to smuggle in.
const SMUGGLED: &str = "1-5759e988-bd862e3fe1be46a994272793";

/// Values `http::HeaderValue` accepts, so they reach the service.
fn hostile_values() -> Vec<(&'static str, Vec<u8>)> {
    let root = format!("Root={SMUGGLED}");
    let valid = format!("{root};Parent=53995c3f42cd8ad8;Sampled=1");
    vec![
        ("garbage", b"hello world".to_vec()),
        ("empty", Vec::new()),
        ("only separators", b";;;;;;".to_vec()),
        (
            "10 kB long, valid prefix",
            format!("{valid};Pad={}", "x".repeat(10 * 1024)).into_bytes(),
        ),
        ("10 kB of ';'", ";".repeat(10 * 1024).into_bytes()),
        (
            "thousands of fields",
            format!("{valid}{}", ";a=b".repeat(2000)).into_bytes(),
        ),
        (
            "non-ASCII (obs-text) in Root",
            b"Root=1-5759e988-bd862e3fe1be46a99427279\xc3\xa9;Parent=53995c3f42cd8ad8;Sampled=1"
                .to_vec(),
        ),
        (
            "non-ASCII after a valid header",
            format!("{valid};Note=caf\u{e9}").into_bytes(),
        ),
        (
            "Root with bad hex",
            b"Root=1-5759e98g-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".to_vec(),
        ),
        (
            "Parent with bad hex",
            format!("{root};Parent=53995c3f42cd8adz;Sampled=1").into_bytes(),
        ),
        (
            "all-zero Root",
            b"Root=1-00000000-000000000000000000000000;Parent=53995c3f42cd8ad8;Sampled=1".to_vec(),
        ),
        (
            "duplicate Root",
            format!("{valid};Root=1-5759e988-bd862e3fe1be46a994272794").into_bytes(),
        ),
        (
            "encoded CRLF with a header after it",
            format!("{root}%0d%0aSet-Cookie:%20injected=1").into_bytes(),
        ),
        (
            "markup",
            b"Root=<script>alert(1)</script>;Parent=\"';--".to_vec(),
        ),
        ("tab separated noise", b"\tRoot\t=\t\t;\t=\t".to_vec()),
    ]
}

/// What the server answered and recorded for one request.
struct Answer {
    status: u16,
    header: Option<String>,
    raw: String,
}

fn check_fresh_trace(capture: &Capture, what: &str, answer: &Answer, input: &[u8]) {
    assert_eq!(
        answer.status, 200,
        "{what}: a normal answer\n{}",
        answer.raw
    );
    let header = answer
        .header
        .as_deref()
        .unwrap_or_else(|| panic!("{what}: no X-Amzn-Trace-Id in\n{}", answer.raw));
    let trace = header
        .strip_prefix("Root=")
        .unwrap_or_else(|| panic!("{what}: {header:?} is not Root=<id>"));
    assert!(
        is_xray_trace_id(trace),
        "{what}: answered {header:?}, only our trace id"
    );
    assert_ne!(trace, SMUGGLED, "{what}: a fresh trace");
    let input = String::from_utf8_lossy(input);
    for piece in [
        "Parent", "Sampled", "injected", "script", "Pad", "caf", "Note",
    ] {
        if input.contains(piece) {
            assert!(
                !answer.raw.contains(piece),
                "{what}: {piece:?} echoed in\n{}",
                answer.raw
            );
        }
    }
    let spans: Vec<FinishedSpan> = capture
        .spans()
        .into_iter()
        .filter(|span| span.trace_id == trace)
        .collect();
    assert_eq!(spans.len(), 1, "{what}: {spans:#?}");
    assert!(
        spans[0].is_root(),
        "{what}: no parent for a fresh trace: {:?}",
        spans[0]
    );
    assert_eq!(spans[0].name, "GET /echo");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_headers_get_a_fresh_trace_and_a_normal_answer() {
    let capture = testing::capture();
    let server = Server::start(store("http://127.0.0.1:9"))
        .await
        .expect("bind");
    let client = reqwest::Client::new();
    for (what, value) in hostile_values() {
        let value_header = reqwest::header::HeaderValue::from_bytes(&value)
            .unwrap_or_else(|err| panic!("{what}: the http crate accepts it: {err}"));
        let response = client
            .get(format!("{}/echo", server.url()))
            .header(XRAY, value_header)
            .send()
            .await
            .unwrap_or_else(|err| panic!("{what}: the server answers: {err}"));
        let status = response.status().as_u16();
        let header = response
            .headers()
            .get(XRAY)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let headers = format!("{:?}", response.headers());
        let body = response.text().await.unwrap_or_default();
        let answer = Answer {
            status,
            header,
            raw: format!("{headers}\n{body}"),
        };
        check_fresh_trace(&capture, what, &answer, &value);
    }
}

/// Sends `request` as raw bytes and reads the whole answer.
async fn raw_exchange(server: &Server, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(server.addr()).await.expect("connect");
    stream.write_all(request).await.expect("write");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server closes the connection");
    String::from_utf8_lossy(&answer).into_owned()
}

fn parse_answer(raw: String) -> Answer {
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let header = raw.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case(XRAY)
            .then(|| value.trim().to_owned())
    });
    Answer {
        status,
        header,
        raw,
    }
}

fn request_with(header_lines: &[u8]) -> Vec<u8> {
    let mut request = b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n".to_vec();
    request.extend_from_slice(header_lines);
    request.extend_from_slice(b"\r\n");
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_socket_injection_attempts() {
    let capture = testing::capture();
    let server = Server::start(store("http://127.0.0.1:9"))
        .await
        .expect("bind");

    // What reaches the service: bytes no client library would send.
    let cases: &[(&str, &[u8])] = &[
        (
            "CRLF splitting the header into a second one",
            b"X-Amzn-Trace-Id: garbage\r\nSet-Cookie: injected=1\r\n",
        ),
        (
            "CRLF after a smuggled Root, then a valid-looking second header",
            b"X-Amzn-Trace-Id: Root=<script>\r\nX-Amzn-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1\r\n",
        ),
        (
            "raw high bytes",
            b"X-Amzn-Trace-Id: Root=1-5759e988-\xff\xfe\xfd;Parent=53995c3f42cd8ad8;Sampled=1\r\n",
        ),
    ];
    for (what, lines) in cases {
        let answer = parse_answer(raw_exchange(&server, &request_with(lines)).await);
        check_fresh_trace(&capture, what, &answer, lines);
    }

    // What hyper's parser refuses before any service runs (400 Bad Request):
    // never a 5xx, never an echo.
    let refused: &[(&str, &[u8])] = &[
        (
            "bare CR inside the value",
            b"X-Amzn-Trace-Id: Root=1\rSet-Cookie: injected=1\r\n",
        ),
        (
            "invalid UTF-8 and DEL",
            b"X-Amzn-Trace-Id: \xc3\x28\x7fRoot=1-5759e988-injected\r\n",
        ),
        (
            "NUL inside the value",
            b"X-Amzn-Trace-Id: Root=1-\x00injected\r\n",
        ),
        (
            "obsolete line folding",
            b"X-Amzn-Trace-Id: Root=1-5759e988\r\n injected=1\r\n",
        ),
    ];
    for (what, lines) in refused {
        let raw = raw_exchange(&server, &request_with(lines)).await;
        let answer = parse_answer(raw);
        assert!(
            answer.status == 200 || (400..500).contains(&answer.status) || answer.status == 0,
            "{what}: {}",
            answer.raw
        );
        assert!(
            !answer.raw.contains("injected"),
            "{what}: echoed\n{}",
            answer.raw
        );
        if answer.status == 200 {
            check_fresh_trace(&capture, what, &answer, lines);
        }
    }
}
