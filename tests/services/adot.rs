//! What we inject is accepted by the X-Ray propagators of the OpenTelemetry
//! SDKs that ADOT ships for Python and JavaScript: headers captured on the
//! wire between two of our services (sampled, not sampled, with a Lineage)
//! are fed to each, which must extract the same trace id, parent span id and
//! sampling decision.
//!
//! The propagators are installed from PyPI and npm by
//! `tests/services/adot/install.sh` (run by this test; idempotent).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use xray_runtime::testing;
use xray_services_tests::{Server, XRAY, seen, shop, store, warehouse};

/// What a propagator should extract from one header.
struct Expected {
    header: String,
    line: String,
}

fn install() -> (PathBuf, PathBuf) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("adot/install.sh");
    let output = Command::new("bash")
        .arg(&script)
        .stdin(Stdio::null())
        .output()
        .expect("bash runs the installer");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{} failed (needs python3 with venv, and npm):\n{stdout}\n{}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let value = |key: &str| {
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .map(PathBuf::from)
            .unwrap_or_else(|| panic!("no {key} in\n{stdout}"))
    };
    (value("PYTHON="), value("NODE_MODULES="))
}

fn extract(mut command: Command, headers: &[Expected]) -> Vec<String> {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the extractor starts");
    let input: String = headers.iter().map(|e| format!("{}\n", e.header)).collect();
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input.as_bytes())
        .expect("headers written");
    let output = child.wait_with_output().expect("the extractor finishes");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adot_python_and_javascript_accept_what_we_inject() {
    let (python, node_modules) = install();

    let capture = testing::capture();
    let warehouse = Server::start(warehouse()).await.expect("bind");
    let store = Server::start(store(&warehouse.url())).await.expect("bind");
    let client = reqwest::Client::new();
    let warehouse_client = format!("GET 127.0.0.1:{}", warehouse.addr().port());

    let mut expected = Vec::new();
    // A sampled trace started by a shopper of ours.
    let visit = shop(&client, &store.url(), 1).await.expect("an order");
    let trace = visit.trace_id.clone().expect("a trace");
    let span = capture
        .spans_named(&warehouse_client)
        .into_iter()
        .find(|s| s.trace_id == trace)
        .expect("the store's client span");
    expected.push(Expected {
        header: seen(&visit.body, XRAY).expect("propagated").to_owned(),
        line: format!(
            "valid {} {} 1",
            trace.trim_start_matches("1-").replace('-', ""),
            span.span_id
        ),
    });
    // A caller's decision not to sample, and a caller's Lineage.
    for (incoming, sampled) in [
        (
            "Root=1-6a1b2c3d-0123456789abcdef01234567;Parent=1111111111111111;Sampled=0",
            0,
        ),
        (
            "Root=1-6a1b2c3d-89abcdef0123456789abcdef;Parent=2222222222222222;Sampled=1;Lineage=a87bd80c:1|68fd508a:5",
            1,
        ),
    ] {
        let body = client
            .get(format!("{}/orders/2", store.url()))
            .header(XRAY, incoming)
            .send()
            .await
            .expect("the store answers")
            .text()
            .await
            .expect("a body");
        let header = seen(&body, XRAY).expect("propagated").to_owned();
        let parent = header
            .split(";Parent=")
            .nth(1)
            .map(|rest| rest[..16].to_owned())
            .expect("a parent");
        let trace = incoming
            .split(';')
            .next()
            .and_then(|root| root.strip_prefix("Root=1-"))
            .expect("a Root");
        expected.push(Expected {
            header,
            line: format!("valid {} {parent} {sampled}", trace.replace('-', "")),
        });
    }
    assert!(
        expected[2]
            .header
            .contains(";Lineage=a87bd80c:1|68fd508a:5")
    );

    let mut py = Command::new(&python);
    py.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("adot/extract.py"));
    let mut js = Command::new("node");
    js.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("adot/extract.js"))
        .env("NODE_PATH", node_modules.join("node_modules"));
    for (who, command) in [("python", py), ("javascript", js)] {
        let lines = extract(command, &expected);
        assert_eq!(lines.len(), expected.len(), "{who}: {lines:?}");
        for (line, expected) in lines.iter().zip(&expected) {
            assert_eq!(
                line, &expected.line,
                "{who} extracting {:?}",
                expected.header
            );
        }
    }
}
