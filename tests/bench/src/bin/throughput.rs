//! The export path over OTLP, xray next to the raw OpenTelemetry SDK, in
//! one run and into the same receivers.
//!
//! `throughput` (the driver) starts counting OTLP receivers in its own
//! process (`xray_bench::receiver`: OTLP/HTTP and OTLP/gRPC, each with
//! Nagle's algorithm left on and with `TCP_NODELAY`), then runs steps, each
//! in a fresh child process (`throughput step`) that installs one contender
//! (`xray_bench::contender`: xray, or the SDK's `BatchSpanProcessor` with
//! `opentelemetry-otlp`), makes `#[traced]` / SDK spans on one thread, and
//! exits after shutdown. A step's lost spans are what it made minus what
//! its receiver counted once the process has exited: the same yardstick
//! for both contenders. A step's CPU time is `getrusage(RUSAGE_SELF)` of
//! its whole process (all threads), read after shutdown.
//!
//! For each (protocol, receiver, contender):
//! * `cpu`: a fixed rate (`--cpu-rate`, default 50,000 spans/s) for
//!   `--cpu-secs` (4): CPU time per span received, `--rounds` times (3),
//!   the rounds taking turns over the series; the median is reported;
//! * `max` then `bisect`: flat out, then target rates bisected between the
//!   fastest loss-free and the slowest lossy step, `--rounds` times (3) per
//!   series, the rounds taking turns over the series; the loss-free rate is
//!   the median of the rounds' (`--bisect` steps of
//!   `--step-secs` seconds).
//!
//! Before them, `idle` (each contender and protocol: `init`, sleep
//! `--idle-secs`, CPU used while asleep; run side by side) and `baseline`
//! (the CPU step's loop around the plain function, no tracing); after
//! them, `flush` (`--flush-spans` 1,000,000 made with a queue of 1,048,576
//! and a 10-minute schedule delay, then a flush: its CPU and wall time; on
//! the `--flush-protocols`, default http, `TCP_NODELAY` receivers). Any of
//! these can be left out with `--skip baseline,cpu,bisect,idle,flush`;
//! `--contenders`, `--protocols` and `--receivers` narrow the run.
//!
//! `--gzip`, `--tls` (receivers speak TLS only, with a certificate
//! generated for the run; needs the `secure` feature) and `--sigv4` (HTTP
//! requests signed; `secure` too) apply to every step. Results: stdout and
//! `<target>/xray-bench/export-{steps,idle,flush,run}.tsv`. The run stops
//! scheduling steps past `--budget-secs` (default 360).

use std::fmt::Write as _;
use std::hint::black_box;
use std::io::{Read, Write as _};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use xray_bench::contender::{self, Contender, Secure, Transport};
use xray_bench::receiver::{Counts, Receiver, Receivers};
use xray_bench::{cpu_time, otel, peak_rss_kib, results_dir, thread_cpu_ms, xray};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("step") => step(&args[1..]),
        Some("receive") => receive(&args[1..]),
        _ => drive(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("throughput: {err}");
            ExitCode::FAILURE
        }
    }
}

fn option<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

fn flag(args: &[String], name: &str) -> bool {
    args.iter().any(|a| a == name)
}

fn parsed<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> Result<T, String> {
    match option(args, name) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| format!("bad value {v:?} for {name}")),
    }
}

fn list<T>(
    args: &[String],
    name: &str,
    default: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Vec<T>, String> {
    option(args, name)
        .unwrap_or(default)
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| parse(s).ok_or_else(|| format!("unknown value {s:?} for {name}")))
        .collect()
}

// ---------------------------------------------------------------------------
// One step (child process)

/// Spans made between two looks at the clock.
const CHUNK: u64 = 64;

/// Makes spans with `span` on this thread for `secs`, at `rate` spans/s
/// (flat out when 0); returns how many and the seconds it took.
fn make_spans(span: impl Fn(u64) -> u64, rate: f64, secs: f64) -> (u64, f64) {
    let start = Instant::now();
    let run_for = Duration::from_secs_f64(secs);
    let mut produced = 0u64;
    loop {
        for _ in 0..CHUNK {
            black_box(span(black_box(produced)));
            produced += 1;
        }
        let elapsed = start.elapsed();
        if elapsed >= run_for {
            break;
        }
        if rate > 0.0 {
            let due = Duration::from_secs_f64(produced as f64 / rate);
            if let Some(ahead) = due.checked_sub(elapsed) {
                std::thread::sleep(ahead);
            }
        }
    }
    (produced, start.elapsed().as_secs_f64())
}

/// Makes exactly `n` spans flat out; returns the seconds it took.
fn make_n(span: impl Fn(u64) -> u64, n: u64) -> f64 {
    let start = Instant::now();
    for i in 0..n {
        black_box(span(black_box(i)));
    }
    start.elapsed().as_secs_f64()
}

fn step(args: &[String]) -> Result<(), String> {
    let contender = option(args, "--contender")
        .and_then(Contender::parse)
        .ok_or("--contender xray|sdk is required")?;
    let transport = option(args, "--protocol")
        .and_then(Transport::parse)
        .ok_or("--protocol http|grpc is required")?;
    let endpoint = option(args, "--endpoint").ok_or("--endpoint is required")?;
    let mode = option(args, "--mode").unwrap_or("rate");
    let secure = Secure {
        gzip: flag(args, "--gzip"),
        ca_pem: option(args, "--tls").map(PathBuf::from),
        sigv4: flag(args, "--sigv4"),
    };

    let cpu_start = cpu_time();
    let exporting = contender::start(contender, transport, endpoint, &secure, mode == "flush")?;
    let init_cpu = cpu_time().since(&cpu_start);
    let mut out = format!("init_cpu_us={}", init_cpu.total_us());
    match mode {
        "rate" => {
            let rate: f64 = parsed(args, "--rate", 0.0)?;
            let secs: f64 = parsed(args, "--secs", 3.0)?;
            let (produced, elapsed) = match contender {
                Contender::None => make_spans(xray_bench::plain, rate, secs),
                Contender::Xray => make_spans(xray::span, rate, secs),
                Contender::Sdk => make_spans(otel::span, rate, secs),
            };
            let _ = write!(out, " produced={produced} secs={elapsed:.3}");
        }
        "idle" => {
            let secs: f64 = parsed(args, "--secs", 10.0)?;
            let before = cpu_time();
            std::thread::sleep(Duration::from_secs_f64(secs));
            let idle = cpu_time().since(&before);
            let _ = write!(
                out,
                " produced=0 secs={secs:.3} idle_cpu_us={}",
                idle.total_us()
            );
        }
        "flush" => {
            let n: u64 = parsed(args, "--spans", 1_000_000)?;
            let make_secs = match contender {
                Contender::None => make_n(xray_bench::plain, n),
                Contender::Xray => make_n(xray::span, n),
                Contender::Sdk => make_n(otel::span, n),
            };
            let exported_before = exporting.exported().unwrap_or(0);
            let cpu_before = cpu_time();
            let start = Instant::now();
            let flushed = exporting.flush();
            let flush_ms = start.elapsed().as_secs_f64() * 1e3;
            if let Err(err) = &flushed {
                eprintln!("flush: {err}");
            }
            // The SDK's force_flush gives up after 5 s while its worker goes
            // on exporting: wait until the contender counts every span
            // exported (or lost, for xray), at most a minute.
            let lost = || exporting.self_counted_lost().unwrap_or(0);
            let deadline = start + Duration::from_secs(60);
            while exporting.exported().unwrap_or(0) + lost() < n && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            let drained_ms = start.elapsed().as_secs_f64() * 1e3;
            let cpu = cpu_time().since(&cpu_before);
            let _ = write!(
                out,
                " produced={n} make_secs={make_secs:.3} pending_at_flush={} flush_ms={flush_ms:.1} \
                 flush_ok={} drained_ms={drained_ms:.1} flush_cpu_user_us={} flush_cpu_sys_us={} \
                 exported_at_drain={}",
                n.saturating_sub(exported_before),
                flushed.is_ok(),
                cpu.user_us,
                cpu.sys_us,
                exporting.exported().unwrap_or(0),
            );
        }
        other => return Err(format!("--mode rate|idle|flush, got {other:?}")),
    }
    let rss_before_shutdown = peak_rss_kib().unwrap_or(0);
    // Where the CPU went, before shutdown ends the export threads.
    let threads: Vec<String> = thread_cpu_ms()
        .iter()
        .map(|(name, ms)| format!("{name}:{ms:.1}"))
        .collect();
    let _ = write!(out, " threads={}", threads.join(","));
    let shutdown_start = Instant::now();
    let shut = exporting.shutdown();
    let shutdown_ms = shutdown_start.elapsed().as_millis();
    let cpu = cpu_time().since(&cpu_start);
    if let Err(err) = &shut {
        eprintln!("shutdown: {err}");
    }
    let _ = write!(
        out,
        " cpu_user_us={} cpu_sys_us={} peak_rss_kib={rss_before_shutdown} shutdown_ms={shutdown_ms} \
         shutdown_ok={}",
        cpu.user_us,
        cpu.sys_us,
        shut.is_ok(),
    );
    if contender == Contender::Xray {
        // What xray itself counted as lost, for comparison with the receiver.
        let _ = write!(out, " self_lost={}", xray_runtime::stats().lost());
    }
    println!("{out}");
    Ok(())
}

// ---------------------------------------------------------------------------
// Driver

/// Options that shape the run.
struct Plan {
    contenders: Vec<Contender>,
    protocols: Vec<Transport>,
    /// `true`: Nagle's algorithm left on at the receiver.
    receivers: Vec<bool>,
    cpu_rate: f64,
    cpu_secs: f64,
    step_secs: f64,
    bisect: u32,
    /// Bisections per series (`--rounds`): the loss-free rate reported is
    /// their median.
    rounds: u32,
    idle_secs: f64,
    flush_spans: u64,
    flush_protocols: Vec<Transport>,
    skip: Vec<String>,
    gzip: bool,
    tls: bool,
    sigv4: bool,
    /// Instructions per exported span under callgrind (`--instructions`).
    instructions: bool,
    budget: Duration,
}

impl Plan {
    fn parse(args: &[String]) -> Result<Self, String> {
        let plan = Self {
            contenders: list(args, "--contenders", "xray,sdk", Contender::parse)?,
            protocols: list(args, "--protocols", "http,grpc", Transport::parse)?,
            receivers: list(args, "--receivers", "nagle,nodelay", |s| match s {
                "nagle" => Some(true),
                "nodelay" => Some(false),
                _ => None,
            })?,
            cpu_rate: parsed(args, "--cpu-rate", 50_000.0)?,
            cpu_secs: parsed(args, "--cpu-secs", 4.0)?,
            step_secs: parsed(args, "--step-secs", 3.0)?,
            bisect: parsed(args, "--bisect", 5)?,
            rounds: parsed::<u32>(args, "--rounds", 3)?.max(1),
            idle_secs: parsed(args, "--idle-secs", 10.0)?,
            flush_spans: parsed(args, "--flush-spans", 1_000_000)?,
            flush_protocols: list(args, "--flush-protocols", "http", Transport::parse)?,
            skip: list(args, "--skip", "", |s| {
                ["baseline", "cpu", "bisect", "idle", "flush"]
                    .contains(&s)
                    .then(|| s.to_owned())
            })?,
            gzip: flag(args, "--gzip"),
            tls: flag(args, "--tls"),
            sigv4: flag(args, "--sigv4"),
            instructions: flag(args, "--instructions"),
            budget: Duration::from_secs_f64(parsed(args, "--budget-secs", 900.0)?),
        };
        if let Some(unknown) = args.iter().find(|a| {
            a.starts_with("--")
                && ![
                    "--contenders",
                    "--protocols",
                    "--receivers",
                    "--cpu-rate",
                    "--cpu-secs",
                    "--step-secs",
                    "--bisect",
                    "--rounds",
                    "--idle-secs",
                    "--flush-spans",
                    "--flush-protocols",
                    "--skip",
                    "--gzip",
                    "--tls",
                    "--sigv4",
                    "--instructions",
                    "--budget-secs",
                ]
                .contains(&a.as_str())
        }) {
            return Err(format!("unknown option {unknown}"));
        }
        Ok(plan)
    }

    fn runs(&self, what: &str) -> bool {
        !self.skip.iter().any(|s| s == what)
    }

    fn options_label(&self) -> String {
        Secure {
            gzip: self.gzip,
            ca_pem: self.tls.then(PathBuf::new),
            sigv4: self.sigv4,
        }
        .label()
    }
}

/// A step to run: what the child is told.
#[derive(Clone, Debug)]
struct StepSpec {
    contender: Contender,
    transport: Transport,
    receiver: &'static str,
    endpoint: String,
    mode: &'static str,
    rate: f64,
    secs: f64,
    spans: u64,
    gzip: bool,
    ca_pem: Option<PathBuf>,
    sigv4: bool,
    /// Run under callgrind, writing its profile here.
    callgrind_out: Option<PathBuf>,
}

impl StepSpec {
    fn options(&self) -> String {
        Secure {
            gzip: self.gzip,
            ca_pem: self.ca_pem.clone(),
            sigv4: self.sigv4,
        }
        .label()
    }

    /// How long the step may run before it is killed.
    fn time_limit(&self) -> Duration {
        // Under callgrind a process starts tens of times slower.
        let slack = if self.callgrind_out.is_some() {
            240.0
        } else {
            60.0
        };
        Duration::from_secs_f64(self.secs + slack)
            + if self.mode == "flush" {
                Duration::from_secs(90)
            } else {
                Duration::ZERO
            }
    }

    fn command(&self) -> Result<Command, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut command = match &self.callgrind_out {
            Some(out) => {
                let mut valgrind = Command::new("valgrind");
                valgrind
                    .arg("--tool=callgrind")
                    .arg("-q")
                    .arg(format!("--callgrind-out-file={}", out.display()))
                    .arg(exe);
                valgrind
            }
            None => Command::new(exe),
        };
        command
            .arg("step")
            .args(["--contender", self.contender.name()])
            .args(["--protocol", self.transport.name()])
            .args(["--endpoint", &self.endpoint])
            .args(["--mode", self.mode])
            .args(["--rate", &format!("{:.0}", self.rate)])
            .args(["--secs", &self.secs.to_string()])
            .args(["--spans", &self.spans.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if self.gzip {
            command.arg("--gzip");
        }
        if let Some(ca) = &self.ca_pem {
            command.arg("--tls").arg(ca);
        }
        if self.sigv4 {
            command.arg("--sigv4");
        }
        // Only the batch processor's OTEL_BSP_* settings may come from
        // outside; no credentials or xray settings of the caller's.
        for (key, _) in std::env::vars_os() {
            let key_s = key.to_string_lossy();
            if (key_s.starts_with("OTEL_") && !key_s.starts_with("OTEL_BSP_"))
                || key_s.starts_with("XRAY_")
                || key_s.starts_with("AWS_")
            {
                command.env_remove(key);
            }
        }
        if self.mode == "flush" {
            command
                .env("OTEL_BSP_MAX_QUEUE_SIZE", "1048576")
                .env("OTEL_BSP_SCHEDULE_DELAY", "600000")
                // xray's flush waits for at most this long (its shutdown
                // timeout): long enough for the receiver to take 1M spans.
                .env("OTEL_BSP_EXPORT_TIMEOUT", "60000");
        }
        Ok(command)
    }
}

/// A step's child process, its output read on two threads.
struct Running {
    spec: StepSpec,
    child: Child,
    stdout: JoinHandle<String>,
    stderr: JoinHandle<String>,
    started: Instant,
    before: Counts,
}

fn read_all(mut from: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = from.read_to_string(&mut text);
        text
    })
}

fn spawn(spec: &StepSpec, receiver: &Receiver) -> Result<Running, String> {
    let before = receiver.counts();
    let mut child = spec
        .command()?
        .spawn()
        .map_err(|e| format!("cannot run the step: {e}"))?;
    let stdout = read_all(child.stdout.take().ok_or("no stdout")?);
    let stderr = read_all(child.stderr.take().ok_or("no stderr")?);
    Ok(Running {
        spec: spec.clone(),
        child,
        stdout,
        stderr,
        started: Instant::now(),
        before,
    })
}

/// What one step measured.
#[derive(Clone, Debug)]
struct Step {
    spec: StepSpec,
    kind: &'static str,
    /// Which bisection of its series a `max` or `bisect` step belongs to.
    round: u32,
    out: String,
    notes: Vec<String>,
    failed: bool,
    got: Counts,
}

impl Step {
    fn num(&self, key: &str) -> Option<f64> {
        self.field(key).and_then(|v| v.parse().ok())
    }

    fn field(&self, key: &str) -> Option<String> {
        self.out
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .map(str::to_owned)
    }

    fn int(&self, key: &str) -> u64 {
        self.num(key).unwrap_or(0.0) as u64
    }

    fn produced(&self) -> u64 {
        self.int("produced")
    }

    fn secs(&self) -> f64 {
        self.num("secs").unwrap_or(0.0)
    }

    fn rate(&self) -> f64 {
        let secs = self.secs();
        if secs > 0.0 {
            self.produced() as f64 / secs
        } else {
            0.0
        }
    }

    fn received(&self) -> u64 {
        self.got.spans
    }

    fn lost(&self) -> u64 {
        if self.failed {
            return self.produced().max(1);
        }
        self.produced().saturating_sub(self.received())
    }

    fn lossless(&self) -> bool {
        !self.failed && self.lost() == 0 && self.produced() > 0
    }

    fn cpu_us(&self) -> u64 {
        self.int("cpu_user_us") + self.int("cpu_sys_us")
    }

    /// The spans a step is judged by: those the receiver got, or the calls
    /// made for the baseline, which sends nothing.
    fn counted(&self) -> u64 {
        if self.spec.contender == Contender::None {
            self.produced()
        } else {
            self.received()
        }
    }

    /// The protocol column: `-` for the baseline.
    fn protocol(&self) -> &'static str {
        if self.spec.contender == Contender::None {
            "-"
        } else {
            self.spec.transport.name()
        }
    }

    /// CPU time of the whole process per span counted.
    fn cpu_ns_per_span(&self) -> Option<f64> {
        let spans = self.counted();
        (spans > 0).then(|| self.cpu_us() as f64 * 1e3 / spans as f64)
    }
}

impl Running {
    /// Waits for the child (killing it past its time limit), then for the
    /// receiver's count to settle.
    fn finish(mut self, receiver: &Receiver, kind: &'static str) -> Step {
        let limit = self.spec.time_limit();
        let mut notes = Vec::new();
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if self.started.elapsed() > limit => {
                    // `Child::kill` signals this child's pid only.
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    notes.push(format!("killed after {} s", limit.as_secs()));
                    break None;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(err) => {
                    notes.push(format!("wait: {err}"));
                    break None;
                }
            }
        };
        let out = self.stdout.join().unwrap_or_default();
        let err = self.stderr.join().unwrap_or_default();
        notes.extend(
            err.lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned),
        );
        let failed = !status.is_some_and(|s| s.success());
        if let Some(status) = status.filter(|s| !s.success()) {
            notes.push(format!("step exited with {status}"));
        }
        let got = settle(receiver).since(&self.before);
        Step {
            spec: self.spec,
            kind,
            round: 0,
            out: out.lines().last().unwrap_or_default().to_owned(),
            notes,
            failed,
            got,
        }
    }
}

/// The receiver's counts once they stop changing (requests the step sent
/// before it exited may still be in the receiver's hands), at most 2 s.
fn settle(receiver: &Receiver) -> Counts {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut last = receiver.counts();
    let mut stable_since = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(25));
        let now = receiver.counts();
        if now != last {
            last = now;
            stable_since = Instant::now();
        } else if stable_since.elapsed() >= Duration::from_millis(150) {
            return now;
        }
        if Instant::now() > deadline {
            return now;
        }
    }
}

fn run(spec: &StepSpec, receiver: &Receiver, kind: &'static str) -> Result<Step, String> {
    let step = spawn(spec, receiver)?.finish(receiver, kind);
    print_step(&step);
    Ok(step)
}

fn print_step(s: &Step) {
    let what = match s.kind {
        "idle" => format!(
            "idle {:.1} s: {:.3} ms CPU/s",
            s.secs(),
            s.int("idle_cpu_us") as f64 / 1e3 / s.secs().max(1e-9)
        ),
        "flush" => format!(
            "flush {} spans ({} pending): call {:.0} ms, drained {:.0} ms, CPU {:.0} ms; received {}",
            s.produced(),
            s.int("pending_at_flush"),
            s.num("flush_ms").unwrap_or(0.0),
            s.num("drained_ms").unwrap_or(0.0),
            (s.int("flush_cpu_user_us") + s.int("flush_cpu_sys_us")) as f64 / 1e3,
            s.received()
        ),
        _ => format!(
            "{:<6} target {:>9} made {:>9} = {:>9.0}/s  received {:>9} lost {:>9} ({:>5.1}%)  CPU {:>6.0} ms = {} ns/span",
            s.kind,
            if s.spec.rate > 0.0 {
                format!("{:.0}/s", s.spec.rate)
            } else {
                "max".to_owned()
            },
            s.produced(),
            s.rate(),
            s.received(),
            s.lost(),
            100.0 * s.lost() as f64 / s.produced().max(1) as f64,
            s.cpu_us() as f64 / 1e3,
            s.cpu_ns_per_span()
                .map_or("-".to_owned(), |v| format!("{v:.0}")),
        ),
    };
    println!(
        "{:<4} {:<4} {:<7} {what}",
        s.spec.contender.name(),
        s.spec.transport.name(),
        s.spec.receiver
    );
    for note in s.notes.iter().take(5) {
        println!("        stderr: {note}");
    }
}

/// Seconds used so far, and whether `cost` more still fits.
struct Budget {
    started: Instant,
    limit: Duration,
    skipped: Vec<String>,
}

impl Budget {
    fn fits(&mut self, cost: f64, what: impl FnOnce() -> String) -> bool {
        let fits = self.started.elapsed() + Duration::from_secs_f64(cost) <= self.limit;
        if !fits {
            let what = what();
            println!("skipped (time budget): {what}");
            self.skipped.push(what);
        }
        fits
    }
}

fn print_endpoints(receivers: &Receivers) {
    for r in receivers.list() {
        println!(
            "receiver {} {}: {}",
            r.transport().name(),
            r.name(),
            r.endpoint()
        );
    }
}

/// `throughput receive [--secs N]`: only the receivers, for a step run by
/// hand (under a profiler: `throughput step --contender xray --protocol
/// http --endpoint <url> --rate 50000 --secs 4`); prints their endpoints,
/// then what they counted each second, for `--secs` (default 600).
fn receive(args: &[String]) -> Result<(), String> {
    let secs: f64 = parsed(args, "--secs", 600.0)?;
    let mut specs = Vec::new();
    for transport in [Transport::Http, Transport::Grpc] {
        for nagle in [true, false] {
            specs.push((transport, nagle));
        }
    }
    let receivers = Receivers::start(&specs, None)?;
    print_endpoints(&receivers);
    let until = Instant::now() + Duration::from_secs_f64(secs);
    let mut last: Vec<Counts> = receivers.list().iter().map(|r| r.counts()).collect();
    while Instant::now() < until {
        std::thread::sleep(Duration::from_secs(1));
        for (r, before) in receivers.list().iter().zip(last.iter_mut()) {
            let now = r.counts();
            if now != *before {
                let got = now.since(before);
                println!(
                    "{} {}: {} spans in {} requests",
                    r.transport().name(),
                    r.name(),
                    got.spans,
                    got.requests
                );
                *before = now;
            }
        }
    }
    Ok(())
}

/// A step's cost besides its duration: process start, init, shutdown,
/// settling.
const STEP_OVERHEAD: f64 = 1.0;

fn drive(args: &[String]) -> Result<(), String> {
    let plan = Plan::parse(args)?;
    let dir = results_dir();
    let tls_dir = dir.join("tls");
    let mut specs = Vec::new();
    for &transport in &plan.protocols {
        for &nagle in &plan.receivers {
            specs.push((transport, nagle));
        }
    }
    for &transport in &plan.flush_protocols {
        if !specs.contains(&(transport, false)) {
            specs.push((transport, false));
        }
    }
    let receivers = Receivers::start(&specs, plan.tls.then_some(tls_dir.as_path()))?;
    let ca_pem = receivers.ca_pem().map(|p| p.to_path_buf());
    print_endpoints(&receivers);
    println!("options: {}", plan.options_label());
    let mut budget = Budget {
        started: Instant::now(),
        limit: plan.budget,
        skipped: Vec::new(),
    };
    let spec_for = |contender: Contender, receiver: &Receiver, mode: &'static str| StepSpec {
        contender,
        transport: receiver.transport(),
        receiver: receiver.name(),
        endpoint: receiver.endpoint(),
        mode,
        rate: 0.0,
        secs: plan.step_secs,
        spans: plan.flush_spans,
        gzip: plan.gzip,
        ca_pem: ca_pem.clone(),
        sigv4: plan.sigv4 && receiver.transport() == Transport::Http,
        callgrind_out: None,
    };
    // The same paced loop without tracing: it sends nothing.
    let baseline_for = |receiver: &Receiver| StepSpec {
        receiver: "-",
        gzip: false,
        ca_pem: None,
        sigv4: false,
        ..spec_for(Contender::None, receiver, "rate")
    };

    // Idle first, every contender and protocol side by side (a process's
    // CPU time is its own; nothing else runs meanwhile).
    let mut idle = Vec::new();
    if plan.runs("idle") && budget.fits(plan.idle_secs + STEP_OVERHEAD, || "idle".into()) {
        let mut running = Vec::new();
        for &transport in &plan.protocols {
            let receiver = receivers.for_transport(transport).ok_or("no receiver")?;
            for &contender in &plan.contenders {
                let mut spec = spec_for(contender, receiver, "idle");
                spec.secs = plan.idle_secs;
                running.push((spawn(&spec, receiver)?, receiver));
            }
        }
        for (run, receiver) in running {
            let step = run.finish(receiver, "idle");
            print_step(&step);
            idle.push(step);
        }
    }

    // The floor of a CPU step: the same loop without tracing.
    let mut steps: Vec<Step> = Vec::new();
    if plan.runs("baseline")
        && plan.runs("cpu")
        && budget.fits(plan.cpu_secs + STEP_OVERHEAD, || "baseline".into())
    {
        let receiver = &receivers.list()[0];
        let mut spec = baseline_for(receiver);
        spec.rate = plan.cpu_rate;
        spec.secs = plan.cpu_secs;
        steps.push(run(&spec, receiver, "baseline")?);
    }

    // Fixed-rate CPU steps, then the bisections, each in rounds that take
    // turns over every series, so that a slow moment of the machine falls
    // on one round of several series rather than on every round of one.
    let mut series: Vec<(Contender, &Receiver)> = Vec::new();
    for &transport in &plan.protocols {
        for &nagle in &plan.receivers {
            let receiver = receivers.find(transport, nagle).ok_or("receiver missing")?;
            series.extend(plan.contenders.iter().map(|&c| (c, receiver)));
        }
    }
    if plan.runs("cpu") {
        for round in 0..plan.rounds {
            for &(contender, receiver) in &series {
                let label = || {
                    format!(
                        "cpu {} {} {} (round {})",
                        contender.name(),
                        receiver.transport().name(),
                        receiver.name(),
                        round + 1
                    )
                };
                if budget.fits(plan.cpu_secs + STEP_OVERHEAD, label) {
                    let mut spec = spec_for(contender, receiver, "rate");
                    spec.rate = plan.cpu_rate;
                    spec.secs = plan.cpu_secs;
                    let mut step = run(&spec, receiver, "cpu")?;
                    step.round = round;
                    steps.push(step);
                }
            }
        }
    }
    if plan.runs("bisect") {
        for round in 0..plan.rounds {
            for &(contender, receiver) in &series {
                bisect(
                    &plan,
                    &spec_for(contender, receiver, "rate"),
                    receiver,
                    round,
                    &mut budget,
                    &mut steps,
                )?;
            }
        }
    }

    // Flushing a million pending spans.
    let mut flushes = Vec::new();
    if plan.runs("flush") {
        for &transport in &plan.flush_protocols {
            let receiver = receivers.for_transport(transport).ok_or("no receiver")?;
            for &contender in &plan.contenders {
                // Making 1M SDK spans and exporting them takes ~15 s.
                if budget.fits(15.0 + STEP_OVERHEAD, || {
                    format!("flush {} {}", contender.name(), transport.name())
                }) {
                    let spec = spec_for(contender, receiver, "flush");
                    flushes.push(run(&spec, receiver, "flush")?);
                }
            }
        }
    }

    // Instructions per exported span: each contender at a low rate under
    // callgrind, for a short and a long step; the difference cancels
    // start, init, connecting and shutdown. The paced loop without
    // tracing once, then each contender and protocol.
    let mut instr = Vec::new();
    if plan.instructions {
        let pair = |mut spec: StepSpec, receiver: &Receiver| -> Result<[Step; 2], String> {
            spec.rate = INSTR_RATE;
            let [short, long] = INSTR_SECS.map(|secs| {
                let mut spec = spec.clone();
                spec.secs = secs;
                spec.callgrind_out = Some(dir.join(format!(
                    "instr-{}-{}-{}-{secs}.out",
                    plan.options_label(),
                    spec.contender.name(),
                    spec.transport.name()
                )));
                spec
            });
            Ok([
                run(&short, receiver, "instr")?,
                run(&long, receiver, "instr")?,
            ])
        };
        let first = &receivers.list()[0];
        instr.push(pair(baseline_for(first), first)?);
        for &transport in &plan.protocols {
            let receiver = receivers.for_transport(transport).ok_or("no receiver")?;
            for &contender in &plan.contenders {
                instr.push(pair(spec_for(contender, receiver, "rate"), receiver)?);
            }
        }
    }

    let total = budget.started.elapsed().as_secs_f64();
    println!("\ntotal {total:.1} s");
    summarize(&steps);
    let measured = Measured {
        steps,
        idle,
        flushes,
        instr,
    };
    write_results(&dir, &plan, &measured, &budget, total)
}

/// What a run measured, by kind of step.
struct Measured {
    steps: Vec<Step>,
    idle: Vec<Step>,
    flushes: Vec<Step>,
    /// Pairs of steps under callgrind: the short one, the long one.
    instr: Vec<[Step; 2]>,
}

/// Spans per second of the steps run under callgrind.
const INSTR_RATE: f64 = 1_000.0;
/// Lengths of the short and the long step under callgrind.
const INSTR_SECS: [f64; 2] = [2.0, 6.0];

/// Flat out, then bisection between the fastest loss-free rate and the
/// slowest lossy one.
fn bisect(
    plan: &Plan,
    base: &StepSpec,
    receiver: &Receiver,
    round: u32,
    budget: &mut Budget,
    steps: &mut Vec<Step>,
) -> Result<(), String> {
    let label = || {
        format!(
            "bisect {} {} {} (round {})",
            base.contender.name(),
            base.transport.name(),
            base.receiver,
            round + 1
        )
    };
    let step = |spec: &StepSpec, kind| {
        run(spec, receiver, kind).map(|mut step| {
            step.round = round;
            step
        })
    };
    if !budget.fits(plan.step_secs + STEP_OVERHEAD, label) {
        return Ok(());
    }
    let max = step(base, "max")?;
    steps.push(max.clone());
    if max.lossless() {
        // The producer, not the export path, set the pace.
        return Ok(());
    }
    // What the receiver got while the producer ran flat out: loss must
    // begin near that rate. Test just below it first; halve while steps
    // lose spans; once a loss-free step is measured, bisect (geometrically)
    // between it and the slowest lossy step.
    let delivered = max.received() as f64 / max.secs().max(1e-9);
    if delivered < 1.0 {
        println!("        nothing delivered flat out: no bisection");
        return Ok(());
    }
    let mut lo: Option<f64> = None;
    let mut hi = max.rate();
    for k in 0..plan.bisect {
        if !budget.fits(plan.step_secs + STEP_OVERHEAD, label) {
            break;
        }
        let target = match lo {
            _ if k == 0 => 0.9 * delivered,
            None => hi / 2.0,
            Some(lo) => (lo * hi).sqrt(),
        };
        let mut spec = base.clone();
        spec.rate = target;
        let s = step(&spec, "bisect")?;
        // A step that could not reach its target rate is judged at the
        // rate it reached.
        if s.lossless() {
            lo = Some(target.min(s.rate()));
        } else {
            hi = target;
        }
        steps.push(s);
    }
    Ok(())
}

/// The median over rounds of the highest loss-free rate of each round (a
/// round with none counts as 0).
fn median_loss_free(series: &[&Step]) -> Option<f64> {
    let mut rounds: Vec<u32> = series
        .iter()
        .filter(|t| matches!(t.kind, "max" | "bisect"))
        .map(|t| t.round)
        .collect();
    rounds.sort_unstable();
    rounds.dedup();
    let mut best: Vec<f64> = rounds
        .iter()
        .map(|&r| {
            series
                .iter()
                .filter(|t| matches!(t.kind, "max" | "bisect") && t.round == r && t.lossless())
                .map(|t| t.rate())
                .fold(0.0, f64::max)
        })
        .collect();
    if best.is_empty() {
        return None;
    }
    best.sort_by(f64::total_cmp);
    Some(best[best.len() / 2])
}

/// The loss-free rate and the CPU per span of each series (medians of the
/// rounds).
fn summarize(steps: &[Step]) {
    let mut seen: Vec<(Contender, Transport, &str)> = Vec::new();
    for s in steps.iter().filter(|s| s.spec.contender != Contender::None) {
        let key = (s.spec.contender, s.spec.transport, s.spec.receiver);
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let series: Vec<&Step> = steps
            .iter()
            .filter(|t| (t.spec.contender, t.spec.transport, t.spec.receiver) == key)
            .collect();
        let ok = median_loss_free(&series);
        let mut cpus: Vec<f64> = series
            .iter()
            .filter(|t| t.kind == "cpu")
            .filter_map(|t| t.cpu_ns_per_span())
            .collect();
        cpus.sort_by(f64::total_cmp);
        let cpu = cpus.get(cpus.len() / 2).copied();
        println!(
            "{:<4} {:<4} {:<7} loss-free {:>10}  CPU/span {:>8}",
            key.0.name(),
            key.1.name(),
            key.2,
            ok.map_or("-".to_owned(), |r| format!("{r:.0}/s")),
            cpu.map_or("-".to_owned(), |c| format!("{c:.0} ns")),
        );
    }
}

fn clean(note: &str) -> String {
    note.replace(['\t', '\n', '\r'], " ")
}

fn notes(s: &Step) -> String {
    let joined = s
        .notes
        .iter()
        .map(|n| clean(n))
        .collect::<Vec<_>>()
        .join(" | ");
    joined.chars().take(400).collect()
}

fn write_results(
    dir: &std::path::Path,
    plan: &Plan,
    measured: &Measured,
    budget: &Budget,
    total: f64,
) -> Result<(), String> {
    let Measured {
        steps,
        idle,
        flushes,
        instr,
    } = measured;
    // The plain run's files are `export-*.tsv`, a secure run's
    // `export-<options>-*.tsv`, so that both can be reported side by side.
    let label = plan.options_label();
    let prefix = if label == "plain" {
        "export".to_owned()
    } else {
        format!("export-{label}")
    };
    let write = |name: &str, text: String| -> Result<PathBuf, String> {
        let path = dir.join(format!("{prefix}-{name}"));
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path)
    };
    let ms = |us: u64| format!("{:.3}", us as f64 / 1e3);

    let mut tsv = String::from(
        "contender\tprotocol\treceiver\toptions\tkind\tround\ttarget_per_s\tproduced\tsecs\trate_per_s\t\
         received\tlost\trequests\twire_bytes\tbody_bytes\tgzip_requests\tsigned_requests\t\
         rejected_requests\ttls_failures\tcpu_user_ms\tcpu_sys_ms\tinit_cpu_ms\tcpu_ns_per_span\t\
         peak_rss_kib\tshutdown_ms\tself_lost\tthread_cpu_ms\tnotes\n",
    );
    for s in steps {
        let _ = writeln!(
            tsv,
            "{}\t{}\t{}\t{}\t{}\t{}\t{:.0}\t{}\t{:.3}\t{:.0}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            s.spec.contender.name(),
            s.protocol(),
            s.spec.receiver,
            s.spec.options(),
            s.kind,
            s.round,
            s.spec.rate,
            s.produced(),
            s.secs(),
            s.rate(),
            s.received(),
            s.lost(),
            s.got.requests,
            s.got.wire_bytes,
            s.got.body_bytes,
            s.got.gzip,
            s.got.signed,
            s.got.rejected,
            s.got.tls_failures,
            ms(s.int("cpu_user_us")),
            ms(s.int("cpu_sys_us")),
            ms(s.int("init_cpu_us")),
            s.cpu_ns_per_span()
                .map_or(String::new(), |v| format!("{v:.1}")),
            s.int("peak_rss_kib"),
            s.int("shutdown_ms"),
            s.num("self_lost")
                .map_or(String::new(), |v| format!("{v:.0}")),
            s.field("threads").unwrap_or_default(),
            notes(s),
        );
    }
    let mut written = Vec::new();
    // A run of the instruction steps alone leaves the other results as they are.
    let rest = !(steps.is_empty() && idle.is_empty() && flushes.is_empty());
    if rest {
        written.push(write("steps.tsv", tsv)?);
    }

    let mut tsv = String::from(
        "contender\tprotocol\treceiver\toptions\tsecs\tidle_cpu_ms\tcpu_ms_per_s\tinit_cpu_ms\t\
         total_cpu_ms\tpeak_rss_kib\tnotes\n",
    );
    for s in idle {
        let idle_us = s.int("idle_cpu_us");
        let _ = writeln!(
            tsv,
            "{}\t{}\t{}\t{}\t{:.3}\t{}\t{:.4}\t{}\t{}\t{}\t{}",
            s.spec.contender.name(),
            s.spec.transport.name(),
            s.spec.receiver,
            s.spec.options(),
            s.secs(),
            ms(idle_us),
            idle_us as f64 / 1e3 / s.secs().max(1e-9),
            ms(s.int("init_cpu_us")),
            ms(s.cpu_us()),
            s.int("peak_rss_kib"),
            notes(s),
        );
    }
    if rest {
        written.push(write("idle.tsv", tsv)?);
    }

    let mut tsv = String::from(
        "contender\tprotocol\treceiver\toptions\tspans\tmake_secs\tpending_at_flush\tflush_ms\t\
         flush_ok\tdrained_ms\tflush_cpu_user_ms\tflush_cpu_sys_ms\treceived\tlost\trequests\t\
         peak_rss_kib\tnotes\n",
    );
    for s in flushes {
        let _ = writeln!(
            tsv,
            "{}\t{}\t{}\t{}\t{}\t{:.3}\t{}\t{:.1}\t{}\t{:.1}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            s.spec.contender.name(),
            s.spec.transport.name(),
            s.spec.receiver,
            s.spec.options(),
            s.produced(),
            s.num("make_secs").unwrap_or(0.0),
            s.int("pending_at_flush"),
            s.num("flush_ms").unwrap_or(0.0),
            s.out.contains("flush_ok=true"),
            s.num("drained_ms").unwrap_or(0.0),
            ms(s.int("flush_cpu_user_us")),
            ms(s.int("flush_cpu_sys_us")),
            s.received(),
            s.lost(),
            s.got.requests,
            s.int("peak_rss_kib"),
            notes(s),
        );
    }
    if rest {
        written.push(write("flush.tsv", tsv)?);
    }

    if !instr.is_empty() {
        // Instructions per span are worked out by the report from the
        // dumps (it leaves out code that spins for a fixed time).
        let mut tsv = String::from(
            "contender\tprotocol\toptions\trate_per_s\tshort_secs\tlong_secs\tspans_short\t\
             spans_long\tdump_short\tdump_long\tlost\tnotes\n",
        );
        let dump = |s: &Step| {
            s.spec
                .callgrind_out
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        };
        for [short, long] in instr {
            let lost = if short.spec.contender == Contender::None {
                0
            } else {
                short.lost() + long.lost()
            };
            let _ = writeln!(
                tsv,
                "{}\t{}\t{}\t{:.0}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                short.spec.contender.name(),
                short.protocol(),
                short.spec.options(),
                short.spec.rate,
                short.spec.secs,
                long.spec.secs,
                short.counted(),
                long.counted(),
                dump(short),
                dump(long),
                lost,
                clean(&format!("{} {}", notes(short), notes(long))),
            );
        }
        written.push(write("instr.tsv", tsv)?);
    }

    let mut tsv = String::from("key\tvalue\n");
    let contenders: Vec<&str> = plan.contenders.iter().map(|c| c.name()).collect();
    let protocols: Vec<&str> = plan.protocols.iter().map(|p| p.name()).collect();
    let receivers: Vec<&str> = plan
        .receivers
        .iter()
        .map(|&n| if n { "nagle" } else { "nodelay" })
        .collect();
    for (key, value) in [
        ("options", plan.options_label()),
        ("contenders", contenders.join(",")),
        ("protocols", protocols.join(",")),
        ("receivers", receivers.join(",")),
        ("cpu_rate", format!("{:.0}", plan.cpu_rate)),
        ("cpu_secs", plan.cpu_secs.to_string()),
        ("step_secs", plan.step_secs.to_string()),
        ("bisect", plan.bisect.to_string()),
        ("rounds", plan.rounds.to_string()),
        ("idle_secs", plan.idle_secs.to_string()),
        ("flush_spans", plan.flush_spans.to_string()),
        ("total_secs", format!("{total:.1}")),
        ("skipped", budget.skipped.join("; ")),
    ] {
        let _ = writeln!(tsv, "{key}\t{}", clean(&value));
    }
    if rest {
        written.push(write("run.tsv", tsv)?);
    }
    for path in written {
        println!("written: {}", path.display());
    }
    std::io::stdout().flush().map_err(|e| e.to_string())
}
