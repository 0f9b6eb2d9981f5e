//! Rule choice compared with the AWS X-Ray SDK for Python 2.15.0.
//!
//! A fixed, seeded generator draws a few thousand requests from small
//! vocabularies (including empty values, case variants, `*` and `?` in the
//! text, non-ASCII characters). For each scenario the choice of this crate
//! is compared with:
//!
//! * the SDK's choices recorded in `reference/golden/<scenario>.txt`
//!   (always run);
//! * the SDK itself, through `reference/python_match.py`, run by the
//!   Python of the workspace's test peers (`bash tests/peers/install.sh`,
//!   which the workspace's `tests/run.sh` runs first, installs
//!   `aws-xray-sdk==2.15.0` there), or by `XRAY_REFERENCE_PYTHON` when set.
//!   Set `XRAY_REFERENCE_BLESS=1` to rewrite the golden files from the SDK.

use serde_json::json;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use xray_sampling::{LocalRules, RuleSet, Sampler, SamplingRequest, parse_sampling_rules};

const NOW: u64 = 1_700_000_000;
const REQUESTS: usize = 4000;

struct Req {
    host: &'static str,
    method: &'static str,
    path: &'static str,
    service: &'static str,
    service_type: &'static str,
}

impl Req {
    fn as_request(&self) -> SamplingRequest<'static> {
        SamplingRequest {
            host: self.host,
            http_method: self.method,
            url_path: self.path,
            service_name: self.service,
            service_type: self.service_type,
            ..SamplingRequest::new()
        }
    }
}

const HOSTS: &[&str] = &[
    "",
    "example.com",
    "EXAMPLE.COM",
    "api.example.com",
    "www.example.com",
    "API.Example.Com",
    "localhost",
    "a.b",
    "*",
    "api.",
    "\u{212A}elvin.io",
    "kelvin.io",
    "café.example",
];
const METHODS: &[&str] = &[
    "", "GET", "get", "Get", "POST", "post", "PUT", "DELETE", "delete", "*", "?", "PATCH",
];
const PATHS: &[&str] = &[
    "",
    "/",
    "/health",
    "/HEALTH",
    "/health/",
    "/api",
    "/api/",
    "/api/v1/users",
    "/API/V1/USERS/42",
    "/api/v1/users?page=2",
    "/api/v2/users/7",
    "/API/V9/USERS/",
    "/api/move/left",
    "/api/x",
    "/static/js/app.js",
    "/search?page=2",
    "/api/v1/usersx",
    "/api/*",
    "/api/*x",
    "/api/x*",
    "/api/move/1",
    "/abc",
    "/aXc",
    "/ac",
    "/abbc",
    "/a?c",
    "/static/app.js",
    "/static/js",
    "/static/*.js",
    "/café/menu",
    "/CAFÉ/x",
    "/cafe/menu",
    "*",
    "**",
    "*x",
    "/\u{212A}",
    "/k",
];
const SERVICES: &[&str] = &[
    "",
    "orders",
    "Orders-api",
    "checkout",
    "payments",
    "day-job",
    "Bayes",
    "ay",
    "*",
];
const SERVICE_TYPES: &[&str] = &[
    "",
    "AWS::EC2::Instance",
    "AWS::ECS::Container",
    "aws::ecs::container",
    "AWS::EKS::Container",
    "AWS::Lambda::Function",
    "AWS::ElasticBeanstalk::Environment",
];

fn requests() -> Vec<Req> {
    let mut state = 0x243F_6A88_85A3_08D3u64;
    let mut pick = |options: &[&'static str]| {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let r = state.wrapping_mul(0x2545_F491_4F6C_DD1D);
        options[((r >> 33) % options.len() as u64) as usize]
    };
    (0..REQUESTS)
        .map(|_| Req {
            host: pick(HOSTS),
            method: pick(METHODS),
            path: pick(PATHS),
            service: pick(SERVICES),
            service_type: pick(SERVICE_TYPES),
        })
        .collect()
}

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[derive(Clone, Copy)]
struct Scenario {
    name: &'static str,
    /// Centralized rules file, if any; the local file is the fallback.
    centralized: Option<&'static str>,
    local: &'static str,
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "centralized",
        centralized: Some("centralized.json"),
        local: "local_v2.json",
    },
    Scenario {
        name: "centralized_no_default",
        centralized: Some("centralized_no_default.json"),
        local: "local_v2.json",
    },
    Scenario {
        name: "centralized_paths",
        centralized: Some("centralized_paths.json"),
        local: "local_v2.json",
    },
    Scenario {
        name: "local_v2",
        centralized: None,
        local: "local_v2.json",
    },
    Scenario {
        name: "local_v1",
        centralized: None,
        local: "local_v1.json",
    },
];

/// This crate's choice per request, in the script's output format.
fn rust_choices(scenario: Scenario, requests: &[Req]) -> Vec<String> {
    let rules_dir = crate_dir().join("reference/rules");
    let local =
        LocalRules::parse(&read(&rules_dir.join(scenario.local))).expect("local rules parse");
    let local_set = RuleSet::from_local(&local);
    let local_id = local_set.id();
    let local_names: Vec<String> = local_set.rules().map(|r| r.name.clone()).collect();
    let sampler = Sampler::new(local_set, "000000000000000000000001");
    if let Some(file) = scenario.centralized {
        let rules =
            parse_sampling_rules(&read(&rules_dir.join(file))).expect("centralized rules parse");
        sampler.update_rules(rules, NOW);
    }
    requests
        .iter()
        .enumerate()
        .map(|(i, req)| {
            // Decide through the real entry point; `random` is irrelevant here.
            let decision = sampler.decide(&req.as_request(), NOW + 1, i as u64);
            let rule = decision.rule.expect("a local default always decides");
            if rule.set_id() == local_id {
                if rule.index() == local_names.len() - 1 {
                    "local:default".to_owned()
                } else {
                    format!("local:{}", rule.index())
                }
            } else {
                sampler.rule_name(rule).expect("rule of the installed set")
            }
        })
        .collect()
}

fn describe(req: &Req) -> String {
    format!(
        "host={:?} method={:?} path={:?} service={:?} service_type={:?}",
        req.host, req.method, req.path, req.service, req.service_type
    )
}

fn requests_digest(requests: &[Req]) -> u64 {
    // FNV-1a over the request fields, to notice a changed generator.
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for r in requests {
        for field in [r.host, r.method, r.path, r.service, r.service_type] {
            for b in field.bytes().chain([0xff]) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
    h
}

fn compare(scenario: Scenario, requests: &[Req], expected: &[String], source: &str) {
    let actual = rust_choices(scenario, requests);
    assert_eq!(
        actual.len(),
        expected.len(),
        "{}: {source} has {} answers",
        scenario.name,
        expected.len()
    );
    let mut report = String::new();
    let mut mismatches = 0;
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        if a != e {
            mismatches += 1;
            if mismatches <= 20 {
                let _ = writeln!(
                    report,
                    "  #{i}: {} -> ours {a}, {source} {e}",
                    describe(&requests[i])
                );
            }
        }
    }
    assert_eq!(
        mismatches,
        0,
        "{}: {mismatches} of {} choices differ from {source}:\n{report}",
        scenario.name,
        requests.len()
    );
    // The scenario must exercise more than one outcome to mean anything.
    let distinct: std::collections::BTreeSet<&String> = expected.iter().collect();
    assert!(
        distinct.len() >= 5,
        "{}: only {distinct:?} chosen",
        scenario.name
    );
}

fn golden_path(scenario: Scenario) -> PathBuf {
    crate_dir()
        .join("reference/golden")
        .join(format!("{}.txt", scenario.name))
}

fn check_golden(scenario: Scenario) {
    let requests = requests();
    let text = read(&golden_path(scenario));
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let digest = format!("# requests {:016x}", requests_digest(&requests));
    assert_eq!(
        header, digest,
        "the request generator changed since the golden file was recorded; run reference/run.sh with XRAY_REFERENCE_BLESS=1"
    );
    let expected: Vec<String> = lines.map(str::to_owned).collect();
    compare(scenario, &requests, &expected, "the recorded Python SDK");
}

#[test]
fn golden_centralized() {
    check_golden(SCENARIOS[0]);
}

#[test]
fn golden_centralized_without_default_falls_back_to_local() {
    check_golden(SCENARIOS[1]);
}

#[test]
fn golden_centralized_path_rules() {
    check_golden(SCENARIOS[2]);
}

#[test]
fn golden_local_v2() {
    check_golden(SCENARIOS[3]);
}

#[test]
fn golden_local_v1() {
    check_golden(SCENARIOS[4]);
}

/// `XRAY_REFERENCE_PYTHON`, else the Python of the workspace's test peers.
fn reference_python() -> PathBuf {
    if let Some(python) = std::env::var_os("XRAY_REFERENCE_PYTHON") {
        return PathBuf::from(python);
    }
    let workspace = crate_dir()
        .parent()
        .expect("the crate is in the workspace")
        .to_path_buf();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    let python = target.join("tools/peers-venv/bin/python");
    assert!(
        python.exists(),
        "no {}: run `bash tests/peers/install.sh` (tests/run.sh does), or set XRAY_REFERENCE_PYTHON \
         to a Python with aws-xray-sdk==2.15.0",
        python.display()
    );
    python
}

fn run_python(scenario: Scenario, requests: &[Req]) -> Vec<String> {
    let rules_dir = crate_dir().join("reference/rules");
    let parse = |file: &str| -> serde_json::Value {
        serde_json::from_str(&read(&rules_dir.join(file))).expect("fixture is JSON")
    };
    let spec = json!({
        "mode": if scenario.centralized.is_some() { "centralized" } else { "local" },
        "now": NOW + 1,
        "rules_response": scenario.centralized.map(parse),
        "local": parse(scenario.local),
        "requests": requests.iter().map(|r| json!({
            "host": r.host, "method": r.method, "path": r.path,
            "service": r.service, "service_type": r.service_type,
        })).collect::<Vec<_>>(),
    });
    let input = std::env::temp_dir().join(format!(
        "xray-sampling-{}-{}.json",
        scenario.name,
        std::process::id()
    ));
    std::fs::write(&input, spec.to_string()).expect("write the script's input");
    let python = reference_python();
    let python = python.display();
    let output = Command::new(python.to_string())
        .arg(crate_dir().join("reference/python_match.py"))
        .arg(&input)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    let _ = std::fs::remove_file(&input);
    assert!(
        output.status.success(),
        "{python} python_match.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("UTF-8 output")
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn live_python_sdk() {
    let requests = requests();
    let bless = std::env::var("XRAY_REFERENCE_BLESS").is_ok_and(|v| v == "1");
    for &scenario in SCENARIOS {
        let expected = run_python(scenario, &requests);
        if bless {
            let mut text = format!("# requests {:016x}\n", requests_digest(&requests));
            for line in &expected {
                text.push_str(line);
                text.push('\n');
            }
            std::fs::write(golden_path(scenario), text).expect("write golden file");
        }
        compare(scenario, &requests, &expected, "the Python SDK");
        eprintln!(
            "{}: {} requests, all choices identical",
            scenario.name,
            requests.len()
        );
    }
}
