//! Harness for the tests of the secure export path: the Python peers of
//! `tests/peers` (an OTLP receiver checking SigV4 with botocore, instance
//! and container metadata), started as child processes on free ports, and
//! the programs under test run as real processes with a controlled
//! environment.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

pub use serde_json::Value;

/// How long a peer may take to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a program under test may run before it is killed.
const PROGRAM_DEADLINE: Duration = Duration::from_secs(60);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("tests/secure is two levels down")
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"))
}

/// The Python of the peers' virtualenv (`tests/peers/install.sh`).
pub fn peers_python() -> PathBuf {
    let python = target_dir().join("tools/peers-venv/bin/python");
    assert!(
        python.exists(),
        "no {}: run `bash tests/peers/install.sh` (tests/run.sh does)",
        python.display()
    );
    python
}

/// A fresh directory for one test's files.
pub fn scratch(name: &str) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = target_dir().join("xray-secure-tests").join(format!(
        "{name}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// Certificates for one test (`tests/peers/certs.py`).
pub struct Certs {
    pub dir: PathBuf,
}

impl Certs {
    pub fn generate(dir: &Path) -> Self {
        let status = Command::new(peers_python())
            .arg(workspace().join("tests/peers/certs.py"))
            .arg("--out")
            .arg(dir)
            .args(["--hosts", "127.0.0.1,localhost"])
            .status()
            .expect("certs.py runs");
        assert!(status.success(), "certs.py failed");
        Self {
            dir: dir.to_path_buf(),
        }
    }

    pub fn file(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }
}

/// A running peer; stopped by its pid when dropped.
pub struct Peer {
    child: Child,
    pub ports: Vec<u16>,
    pub record: PathBuf,
}

impl Peer {
    /// Starts `tests/peers/<script>` with `args` (and `--port 0`,
    /// `--record`), waiting for its ready line.
    pub fn start(script: &str, dir: &Path, args: &[&str]) -> Self {
        let record = dir.join(format!("{script}.jsonl"));
        let mut child = Command::new(peers_python())
            .arg(workspace().join("tests/peers").join(script))
            .args(["--port", "0", "--exit-with-stdin"])
            .arg("--record")
            .arg(&record)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {script}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, receiver) = std::sync::mpsc::channel();
        thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = sender.send(line);
        });
        let line = receiver
            .recv_timeout(READY_TIMEOUT)
            .unwrap_or_else(|_| panic!("{script} printed no ready line"));
        let ports: Vec<u16> = line
            .strip_prefix("LISTENING ")
            .unwrap_or_else(|| panic!("{script}: unexpected first line {line:?}"))
            .split_whitespace()
            .map(|p| p.parse().expect("a port"))
            .collect();
        Self {
            child,
            ports,
            record,
        }
    }

    pub fn port(&self) -> u16 {
        self.ports[0]
    }

    /// Every request recorded so far.
    pub fn records(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.record)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("a JSON record"))
            .collect()
    }

    /// Changes the peer's behaviour (`POST /_control/mode`), over plain
    /// HTTP or TLS as the peer serves.
    pub fn control(&self, path: &str, body: &str, ca: Option<&str>) {
        let scheme = if ca.is_some() { "https" } else { "http" };
        let mut command = Command::new(peers_python());
        command
            .arg("-c")
            .arg(CONTROL_SCRIPT)
            .arg(format!("{scheme}://127.0.0.1:{}{path}", self.port()))
            .arg(body)
            .arg(ca.unwrap_or(""));
        let status = command.status().expect("control request");
        assert!(status.success(), "control {path} {body} failed");
    }
}

const CONTROL_SCRIPT: &str = r#"
import json, ssl, sys, urllib.request
url, body, ca = sys.argv[1], sys.argv[2], sys.argv[3]
context = ssl.create_default_context(cafile=ca) if ca else None
request = urllib.request.Request(url, data=body.encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
urllib.request.urlopen(request, context=context, timeout=10).read()
"#;

impl Drop for Peer {
    fn drop(&mut self) {
        // `Child::kill` signals this child's pid only.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The spans of every record, flattened.
pub fn spans(records: &[Value]) -> Vec<Value> {
    records
        .iter()
        .flat_map(|r| r["spans"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// A finished program under test.
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    /// `key=value` lines of its stdout.
    pub fn facts(&self) -> HashMap<String, String> {
        self.stdout
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    pub fn number(&self, key: &str) -> u64 {
        self.facts()
            .get(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no number {key:?}{self}"))
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "\n--- exited {} after {:?}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.status, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// Whether an inherited variable could change what the programs do.
fn is_controlled(name: &OsString) -> bool {
    let name = name.to_string_lossy();
    name.starts_with("OTEL_")
        || name.starts_with("AWS_")
        || name.starts_with("XRAY_")
        || name.starts_with("ECS_")
        || name == "_X_AMZN_TRACE_ID"
}

/// Runs `program` with every AWS, OTLP and X-Ray variable of this process
/// removed, no AWS profile or instance metadata, and `env` on top.
pub fn run(program: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let home = scratch("home");
    let mut command = Command::new(program);
    for (name, _) in std::env::vars_os().filter(|(name, _)| is_controlled(name)) {
        command.env_remove(name);
    }
    command
        .args(args)
        .env("HOME", &home)
        .env("AWS_CONFIG_FILE", home.join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("no-credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("RUST_BACKTRACE", "0")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    let read = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = read(Box::new(child.stdout.take().expect("stdout")));
    let stderr = read(Box::new(child.stderr.take().expect("stderr")));
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > PROGRAM_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{program} did not exit within {PROGRAM_DEADLINE:?}; stderr:\n{}",
                stderr.join().unwrap_or_default()
            );
        }
        thread::sleep(Duration::from_millis(10));
    };
    Run {
        status,
        elapsed: started.elapsed(),
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}
