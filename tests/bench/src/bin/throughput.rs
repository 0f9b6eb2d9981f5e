//! Export throughput over OTLP to a real collector.
//!
//! `throughput` (the driver) starts a rotel collector on two free
//! 127.0.0.1 ports with `--exporter blackhole`, then for OTLP/gRPC and
//! OTLP/HTTP runs steps, each in a fresh child process (`throughput step`):
//! one thread makes `#[traced]` spans for a few seconds — as fast as it can,
//! then at target rates bisected between the fastest loss-free rate and the
//! slowest lossy one — and exits, which flushes. A step's lost spans are
//! what xray counts (`xray_runtime::stats`: spans the export queue dropped
//! and spans the exporter failed to deliver). The collector is stopped by
//! its pid at the end. Results: stdout and `<target>/xray-bench/throughput.tsv`.
//!
//! Options: `--step-secs S` (default 3), `--bisect K` (default 5 steps),
//! `--protocols grpc,http`. Total time is bounded by `--budget-secs`
//! (default 55): steps that would not fit are skipped.

use std::fmt::Write as _;
use std::fs::File;
use std::hint::black_box;
use std::io::{self, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use xray_bench::{peak_rss_kib, results_dir, target_dir, xray};
use xray_runtime::{Config, ExporterKind, Protocol, SamplerKind};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = if args.first().map(String::as_str) == Some("step") {
        step(&args[1..])
    } else {
        drive(&args)
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

fn parsed<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> Result<T, String> {
    match option(args, name) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| format!("bad value {v:?} for {name}")),
    }
}

// ---------------------------------------------------------------------------
// One step (child process)

/// Spans made between two looks at the clock.
const CHUNK: u64 = 64;

fn step(args: &[String]) -> Result<(), String> {
    let protocol = match option(args, "--protocol") {
        Some("grpc") => Protocol::Grpc,
        Some("http") => Protocol::HttpProtobuf,
        other => return Err(format!("--protocol grpc|http, got {other:?}")),
    };
    let endpoint = option(args, "--endpoint").ok_or("--endpoint is required")?;
    let rate: f64 = parsed(args, "--rate", 0.0)?;
    let secs: f64 = parsed(args, "--secs", 2.5)?;

    let guard = xray_runtime::init(
        Config::new()
            .service_name("xray-bench-throughput")
            .exporter(ExporterKind::Otlp)
            .protocol(protocol)
            .endpoint(endpoint)
            .sampler(SamplerKind::AlwaysOn),
    );
    let start = Instant::now();
    let run_for = Duration::from_secs_f64(secs);
    let mut produced = 0u64;
    loop {
        for _ in 0..CHUNK {
            black_box(xray::span(black_box(produced)));
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
    let elapsed = start.elapsed().as_secs_f64();
    let rss_before_shutdown = peak_rss_kib().unwrap_or(0);
    let shutdown_start = Instant::now();
    let flushed = guard.shutdown();
    let shutdown_ms = shutdown_start.elapsed().as_millis();
    if let Err(err @ xray_runtime::FlushError::Timeout(_)) = flushed {
        eprintln!("xray: {err}");
    }
    println!(
        "produced={produced} secs={elapsed:.3} peak_rss_kib={rss_before_shutdown} \
         peak_rss_after_shutdown_kib={} shutdown_ms={shutdown_ms} lost={}",
        peak_rss_kib().unwrap_or(0),
        xray_runtime::stats().lost()
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// Driver

/// A running rotel collector; stopped (by its pid) when dropped.
struct Collector {
    child: Child,
    grpc: SocketAddr,
    http: SocketAddr,
    log: PathBuf,
}

impl Collector {
    fn start(binary: &PathBuf, dir: &std::path::Path) -> Result<Self, String> {
        let [grpc, http] = free_ports()?;
        let log = dir.join("rotel.log");
        let out = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let mut command = Command::new(binary);
        command
            .arg("start")
            .args(["--otlp-grpc-endpoint", &grpc.to_string()])
            .args(["--otlp-http-endpoint", &http.to_string()])
            .args(["--exporter", "blackhole"])
            .arg("--pid-file")
            .arg(dir.join("rotel.pid"))
            .arg("--log-file")
            .arg(dir.join("rotel-daemon.log"))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("ROTEL_") {
                command.env_remove(key);
            }
        }
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let mut collector = Self {
            child,
            grpc,
            http,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = collector.child.try_wait() {
                return Err(format!(
                    "rotel exited ({status}); log: {}",
                    collector.log.display()
                ));
            }
            let up = |addr: &SocketAddr| {
                TcpStream::connect_timeout(addr, Duration::from_millis(200)).is_ok()
            };
            if up(&grpc) && up(&http) {
                return Ok(collector);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "rotel did not listen on {grpc} and {http} within 15 s; log: {}",
                    collector.log.display()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn endpoint(&self, protocol: &str) -> String {
        match protocol {
            "grpc" => format!("http://{}", self.grpc),
            _ => format!("http://{}", self.http),
        }
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        // `Child::kill` signals this child's pid only.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_ports() -> Result<[SocketAddr; 2], String> {
    let bind = || TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind 127.0.0.1:0: {e}"));
    let (a, b) = (bind()?, bind()?);
    let addr = |l: &TcpListener| l.local_addr().map_err(|e| e.to_string());
    Ok([addr(&a)?, addr(&b)?])
}

/// What one step measured.
#[derive(Clone, Debug)]
struct Step {
    protocol: String,
    kind: &'static str,
    target: f64,
    produced: u64,
    secs: f64,
    lost: u64,
    peak_rss_kib: u64,
    shutdown_ms: u64,
    notes: Vec<String>,
}

impl Step {
    fn rate(&self) -> f64 {
        if self.secs > 0.0 {
            self.produced as f64 / self.secs
        } else {
            0.0
        }
    }

    fn lossless(&self) -> bool {
        self.lost == 0
    }
}

fn field(out: &str, key: &str) -> Option<String> {
    out.split_whitespace()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .map(str::to_owned)
}

fn run_step(
    protocol: &str,
    endpoint: &str,
    kind: &'static str,
    target: f64,
    secs: f64,
) -> Result<Step, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut command = Command::new(exe);
    command
        .arg("step")
        .args(["--protocol", protocol, "--endpoint", endpoint])
        .args([
            "--rate",
            &format!("{target:.0}"),
            "--secs",
            &secs.to_string(),
        ])
        .stdin(Stdio::null());
    // Only the batch processor's OTEL_BSP_* settings may come from outside.
    for (key, _) in std::env::vars_os() {
        let key_s = key.to_string_lossy();
        if key_s.starts_with("OTEL_") && !key_s.starts_with("OTEL_BSP_") {
            command.env_remove(key);
        }
    }
    let output = command
        .output()
        .map_err(|e| format!("cannot run the step: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!(
            "step failed ({}):\n{stdout}{stderr}",
            output.status
        ));
    }
    let number = |key: &str| field(&stdout, key).and_then(|v| v.parse::<f64>().ok());
    let notes: Vec<String> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    Ok(Step {
        protocol: protocol.to_owned(),
        kind,
        target,
        produced: number("produced").unwrap_or(0.0) as u64,
        secs: number("secs").unwrap_or(0.0),
        lost: number("lost").unwrap_or(0.0) as u64,
        peak_rss_kib: number("peak_rss_kib").unwrap_or(0.0) as u64,
        shutdown_ms: number("shutdown_ms").unwrap_or(0.0) as u64,
        notes,
    })
}

fn print_step(s: &Step) {
    let target = if s.target > 0.0 {
        format!("{:.0}/s", s.target)
    } else {
        "max".to_owned()
    };
    println!(
        "{:<5} {:<7} target {:>10}  made {:>9} in {:.2}s = {:>9.0} spans/s  lost {:>8} ({:>5.1}%)  peak RSS {:>6} KiB  shutdown {} ms",
        s.protocol,
        s.kind,
        target,
        s.produced,
        s.secs,
        s.rate(),
        s.lost,
        if s.produced > 0 {
            100.0 * s.lost as f64 / s.produced as f64
        } else {
            0.0
        },
        s.peak_rss_kib,
        s.shutdown_ms
    );
    for note in &s.notes {
        println!("        stderr: {note}");
    }
}

fn drive(args: &[String]) -> Result<(), String> {
    let step_secs: f64 = parsed(args, "--step-secs", 3.0)?;
    let bisect: u32 = parsed(args, "--bisect", 5)?;
    let budget = Duration::from_secs_f64(parsed(args, "--budget-secs", 55.0)?);
    let protocols: Vec<String> = option(args, "--protocols")
        .unwrap_or("grpc,http")
        .split(',')
        .map(str::to_owned)
        .collect();
    if let Some(bad) = protocols.iter().find(|p| *p != "grpc" && *p != "http") {
        return Err(format!("unknown protocol {bad:?} (grpc, http)"));
    }

    let binary = std::env::var_os("XRAY_ROTEL_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("tools").join("rotel-agent"));
    if !binary.exists() {
        return Err(format!(
            "no collector at {}: run `bash tests/collector/install-rotel.sh` (or set XRAY_ROTEL_BIN)",
            binary.display()
        ));
    }
    let dir = results_dir().join("rotel");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;

    let started = Instant::now();
    let mut collector = Collector::start(&binary, &dir)?;
    println!(
        "rotel pid {} (blackhole exporter): OTLP/gRPC {}, OTLP/HTTP {}; {step_secs} s per step",
        collector.child.id(),
        collector.grpc,
        collector.http
    );
    // A step costs its duration plus process start and shutdown.
    let step_cost = Duration::from_secs_f64(step_secs + 1.0);
    let fits = |steps_left: u32| started.elapsed() + step_cost * steps_left <= budget;

    let mut steps: Vec<Step> = Vec::new();
    let mut summary = String::new();
    for (i, protocol) in protocols.iter().enumerate() {
        // Split what is left of the budget between the remaining protocols.
        let left = u32::try_from(protocols.len() - i).unwrap_or(1);
        if !fits(left) {
            println!("{protocol}: skipped, out of time budget");
            continue;
        }
        let endpoint = collector.endpoint(protocol);
        let max = run_step(protocol, &endpoint, "max", 0.0, step_secs)?;
        print_step(&max);
        steps.push(max.clone());

        // Bisect between the fastest loss-free and the slowest lossy rate.
        let mut ok: Option<Step> = max.lossless().then(|| max.clone());
        let mut lossy: Option<Step> = (!max.lossless()).then(|| max.clone());
        if lossy.is_some() {
            // What the exporter delivered while the producer ran flat out:
            // loss must begin near that rate. Test just below it first; halve
            // while steps lose spans; once a loss-free step is measured,
            // bisect (geometrically) between it and the slowest lossy step.
            let delivered = max.produced.saturating_sub(max.lost) as f64 / max.secs.max(1e-9);
            let mut lo: Option<f64> = None;
            let mut hi = max.rate();
            for k in 0..bisect {
                let remaining_after =
                    u32::try_from(protocols.len() - i - 1).unwrap_or(0) * (1 + bisect);
                if !fits(1 + remaining_after) {
                    println!("{protocol}: bisection stopped, out of time budget");
                    break;
                }
                let target = match lo {
                    _ if k == 0 => 0.9 * delivered.max(1.0),
                    None => hi / 2.0,
                    Some(lo) => (lo * hi).sqrt(),
                };
                let s = run_step(protocol, &endpoint, "bisect", target, step_secs)?;
                print_step(&s);
                // A step that could not reach its target rate is judged at
                // the rate it reached.
                if s.lossless() {
                    lo = Some(target.min(s.rate()));
                    if ok.as_ref().is_none_or(|o| s.rate() > o.rate()) {
                        ok = Some(s.clone());
                    }
                } else {
                    hi = target;
                    if lossy.as_ref().is_none_or(|l| s.rate() < l.rate()) {
                        lossy = Some(s.clone());
                    }
                }
                steps.push(s);
            }
        }
        if !collector.running() {
            return Err(format!(
                "rotel stopped during the {protocol} steps; log: {}",
                collector.log.display()
            ));
        }
        let _ = writeln!(
            summary,
            "{protocol}: producer max {:.0} spans/s ({} lost of {}); highest loss-free rate {}; lowest lossy rate {}; peak RSS max {} KiB",
            max.rate(),
            max.lost,
            max.produced,
            ok.as_ref().map_or("none measured".to_owned(), |s| format!(
                "{:.0} spans/s",
                s.rate()
            )),
            lossy.as_ref().map_or(
                "none (no loss at the producer's max)".to_owned(),
                |s| format!(
                    "{:.0} spans/s ({:.1}% lost)",
                    s.rate(),
                    100.0 * s.lost as f64 / s.produced.max(1) as f64
                )
            ),
            steps
                .iter()
                .filter(|s| &s.protocol == protocol)
                .map(|s| s.peak_rss_kib)
                .max()
                .unwrap_or(0),
        );
    }
    drop(collector);
    println!("\n{summary}total {:.1} s", started.elapsed().as_secs_f64());

    let path = results_dir().join("throughput.tsv");
    let mut tsv = String::from(
        "protocol\tkind\ttarget_per_s\tproduced\tsecs\trate_per_s\tlost\tpeak_rss_kib\tshutdown_ms\n",
    );
    for s in &steps {
        let _ = writeln!(
            tsv,
            "{}\t{}\t{:.0}\t{}\t{:.3}\t{:.0}\t{}\t{}\t{}",
            s.protocol,
            s.kind,
            s.target,
            s.produced,
            s.secs,
            s.rate(),
            s.lost,
            s.peak_rss_kib,
            s.shutdown_ms
        );
    }
    std::fs::write(&path, tsv).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("written: {}", path.display());
    io::stdout().flush().map_err(|e| e.to_string())
}
