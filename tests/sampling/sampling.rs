//! X-Ray's sampling rules through real components: local rules files, the
//! sampling API (`tests/peers/sampling_api.py`, which records what it is
//! sent and can change rules and quotas, go down, hang or answer garbage),
//! an axum server with `XrayLayer` and real HTTP clients, processes set up
//! from the environment alone, and the AWS X-Ray SDK for Python against the
//! same API as the reference for the statistics it is sent.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use xray_runtime::testing::{Capture, capture_config};
use xray_runtime::{
    Config, Context, KeyValue, SAMPLING_RULE_KEY, SamplerKind, Span, SpanKind, XraySampling,
    traced, xray_root,
};
use xray_secure_tests::{Peer, Run, peers_python, run, scratch};

const APP: &str = env!("CARGO_BIN_EXE_sampling_app");

/// A rule as X-Ray writes it, every field that is not given a wildcard.
fn rule(name: &str, priority: i64, fixed_rate: f64, reservoir: u64, fields: Value) -> Value {
    let mut rule = json!({
        "RuleName": name, "Priority": priority, "FixedRate": fixed_rate,
        "ReservoirSize": reservoir, "ServiceName": "*", "ServiceType": "*", "Host": "*",
        "HTTPMethod": "*", "URLPath": "*", "ResourceARN": "*", "Version": 1, "Attributes": {},
    });
    if let (Some(rule), Some(fields)) = (rule.as_object_mut(), fields.as_object()) {
        for (key, value) in fields {
            rule.insert(key.clone(), value.clone());
        }
    }
    rule
}

fn write(dir: &Path, name: &str, value: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(value).expect("JSON")).expect("write");
    path
}

/// The sampling API with `rules`.
fn sampling_api(dir: &Path, rules: &Value) -> Peer {
    let file = write(dir, "api-rules.json", rules);
    let file = file.to_string_lossy().into_owned();
    Peer::start("sampling_api.py", dir, &["--rules", &file])
}

fn set_mode(api: &Peer, mode: Value) {
    api.control("/_control/mode", &mode.to_string(), None);
}

/// Recorded requests to `path` (e.g. `/SamplingTargets`).
fn calls(api: &Peer, path: &str) -> Vec<Value> {
    api.records()
        .into_iter()
        .filter(|r| r["path"] == path)
        .collect()
}

/// Waits up to `limit` for `done`; whether it happened.
fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if done() {
            return true;
        }
        thread::sleep(Duration::from_millis(50));
    }
    done()
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64()
}

/// The sampled roots a `sampling_app` printed: (seconds since `started`,
/// path, rule).
fn app_roots(run: &Run, started: f64) -> Vec<(f64, String, String)> {
    run.stdout
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| {
            let span: Value = serde_json::from_str(line).expect("a JSON span");
            let at = span["start_time_unix_nano"].as_f64().expect("a start") / 1e9 - started;
            let attributes = &span["attributes"];
            (
                at,
                attributes["url.path"].as_str().unwrap_or("").to_string(),
                attributes[SAMPLING_RULE_KEY]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect()
}

fn rules_capture(rules_file: &Path) -> Capture {
    capture_config(
        Config::new()
            .service_name("jobs")
            .sampler(SamplerKind::Xray)
            .xray_sampling(XraySampling::new().local_only().rules_file(rules_file)),
    )
}

// The arguments are read by the attribute only (unused when tracing is compiled out).
#[allow(unused_variables)]
#[xray_root(attrs(job = kind))]
fn job(kind: &str) {}

// The arguments are read by the attribute only (unused when tracing is compiled out).
#[allow(unused_variables)]
#[xray_root(trace_header = header, attrs(job = kind))]
fn continued_job(header: &str, kind: &str) {}

// The arguments are read by the attribute only (unused when tracing is compiled out).
#[allow(unused_variables)]
#[xray_root(attrs(http.method = "GET", http.request.method = method, url.path = path))]
fn request(method: &str, path: &str) {}

/// An older key's string value stands in for a current key's that is not a
/// string (and the method is then known: `GET`, left to the default rule).
#[xray_root(attrs(http.request.method = 7, http.method = "GET", http.target = "/api/x"))]
fn odd_request() {}

#[traced]
fn plain_work() {}

#[test]
fn local_rules_see_a_roots_attributes_and_http_fields_and_name_the_rule() {
    let dir = scratch("local-rules");
    let file = write(
        &dir,
        "rules.json",
        &json!([
            rule(
                "nightly-jobs",
                1,
                1.0,
                0,
                json!({"Attributes": {"job": "nightly*"}})
            ),
            rule(
                "api-posts",
                2,
                1.0,
                0,
                json!({"HTTPMethod": "POST", "URLPath": "/api/*"})
            ),
            rule("Default", 10000, 0.0, 0, json!({})),
        ]),
    );
    let capture = rules_capture(&file);
    job("nightly-backup");
    job("hourly-report");
    plain_work();
    // `#[xray_root]`'s attrs name the request: the current keys win.
    request("POST", "/api/carts");
    request("GET", "/api/carts");
    odd_request();
    let post = Span::root_with_attributes(
        "POST /api/orders",
        SpanKind::Server,
        &Context::new(),
        vec![
            KeyValue::new("http.request.method", "POST"),
            KeyValue::new("url.path", "/API/orders"),
        ],
    );
    drop(post);
    let get = Span::root_with_attributes(
        "GET /api/orders",
        SpanKind::Server,
        &Context::new(),
        vec![
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("url.path", "/api/orders"),
        ],
    );
    assert!(
        !get.is_recording(),
        "GET is left to the default rule, rate 0"
    );
    drop(get);
    let root = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8";
    // A caller's decision wins over the rules, both ways; `Sampled=?`
    // leaves it to them.
    continued_job(&format!("{root};Sampled=1"), "hourly-sampled-by-caller");
    continued_job(&format!("{root};Sampled=0"), "nightly-dropped-by-caller");
    continued_job(&format!("{root};Sampled=?"), "nightly-asked");

    let spans = capture.spans();
    let mut seen: Vec<(String, Option<String>, Option<String>)> = spans
        .iter()
        .map(|s| {
            (
                s.name.clone(),
                s.attr_str("job").map(str::to_string),
                s.attr_str(SAMPLING_RULE_KEY).map(str::to_string),
            )
        })
        .collect();
    seen.sort();
    let owned = |name: &str, job: Option<&str>, rule: Option<&str>| {
        (
            name.to_string(),
            job.map(str::to_string),
            rule.map(str::to_string),
        )
    };
    assert_eq!(
        seen,
        vec![
            owned("POST /api/orders", None, Some("api-posts")),
            owned("continued_job", Some("hourly-sampled-by-caller"), None),
            owned("continued_job", Some("nightly-asked"), Some("nightly-jobs")),
            owned("job", Some("nightly-backup"), Some("nightly-jobs")),
            owned("request", None, Some("api-posts")),
        ],
        "{spans:#?}"
    );
}

#[test]
fn sampled_counts_stay_within_the_reservoir_and_the_fixed_rate() {
    let dir = scratch("rates");
    let file = write(
        &dir,
        "rules.json",
        &json!({
            "version": 2,
            "rules": [
                {"description": "tenth", "host": "*", "http_method": "*", "url_path": "/tenth",
                 "fixed_target": 0, "rate": 0.1},
                {"description": "two a second", "host": "*", "http_method": "*",
                 "url_path": "/reservoir", "fixed_target": 2, "rate": 0.0}
            ],
            "default": {"fixed_target": 0, "rate": 0.0}
        }),
    );
    let capture = rules_capture(&file);
    let root = |path: &str| {
        Span::root_with_attributes(
            path.to_string(),
            SpanKind::Server,
            &Context::new(),
            vec![KeyValue::new("url.path", path.to_string())],
        )
        .is_recording()
    };
    const N: usize = 4000;
    let tenth = (0..N).filter(|_| root("/tenth")).count();
    // 10% of 4000: mean 400, standard deviation 19; six of them either way.
    assert!((286..=514).contains(&tenth), "{tenth} of {N} at rate 0.1");

    let started = Instant::now();
    let mut reservoir = 0;
    while started.elapsed() < Duration::from_millis(2500) {
        reservoir += usize::from(root("/reservoir"));
        thread::sleep(Duration::from_millis(5));
    }
    let seconds = started.elapsed().as_secs_f64();
    // Two in each second the requests touched (the clock of decisions is
    // the coarse one, refreshed at least every second).
    assert!(
        reservoir >= 2 * (seconds as usize - 1) && reservoir <= 2 * (seconds.ceil() as usize + 2),
        "{reservoir} sampled over {seconds:.2} s from a reservoir of 2 a second"
    );
    let by_rule = capture
        .spans()
        .iter()
        .filter(|s| s.attr_str(SAMPLING_RULE_KEY) == Some("two a second"))
        .count();
    assert_eq!(by_rule, reservoir, "each sampled root names its rule");
}

/// The shop's routes, traced by `XrayLayer`, on a free port.
fn serve() -> (tokio::runtime::Runtime, String) {
    use axum::routing::get;
    serve_routes(
        axum::Router::new()
            .route("/health", get(|| async { "ok" }))
            .route(
                "/api/orders",
                get(|| async { "[]" }).post(|| async { "created" }),
            )
            .route("/other", get(|| async { "other" })),
    )
}

/// `app`, traced by `XrayLayer`, on a free port.
fn serve_routes(app: axum::Router) -> (tokio::runtime::Runtime, String) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let app = app.layer(xray_runtime::XrayLayer::new());
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("a port");
    let base = format!("http://{}", listener.local_addr().expect("an address"));
    runtime.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (runtime, base)
}

/// `count` requests; the `X-Amzn-Trace-Id` of the last answer.
fn send(
    runtime: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    method: &str,
    url: &str,
    count: usize,
    header: Option<&str>,
) -> Option<String> {
    runtime.block_on(async {
        let mut answer = None;
        for _ in 0..count {
            let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
            let mut request = client.request(method, url);
            if let Some(header) = header {
                request = request.header("X-Amzn-Trace-Id", header);
            }
            let response = request.send().await.expect("the service answers");
            assert!(response.status().is_success() || response.status().is_server_error());
            answer = response
                .headers()
                .get("X-Amzn-Trace-Id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
        }
        answer
    })
}

/// Sampled server spans by rule, for paths starting with `path`.
fn sampled(capture: &Capture, method: &str, path: &str) -> Vec<Option<String>> {
    capture
        .spans()
        .iter()
        .filter(|s| {
            s.attr_str("http.request.method") == Some(method)
                && s.attr_str("url.path").is_some_and(|p| p.starts_with(path))
        })
        .map(|s| s.attr_str(SAMPLING_RULE_KEY).map(str::to_string))
        .collect()
}

#[test]
fn centralized_rules_and_quotas_decide_a_real_services_requests() {
    let dir = scratch("centralized");
    let api = sampling_api(
        &dir,
        &json!([
            rule("health", 1, 0.0, 0, json!({"URLPath": "/health"})),
            rule(
                "api-posts",
                2,
                1.0,
                0,
                json!({"HTTPMethod": "POST", "URLPath": "/api/*"})
            ),
            rule(
                "api-gets",
                3,
                0.0,
                1,
                json!({"HTTPMethod": "GET", "URLPath": "/api/*"})
            ),
            rule("Default", 10000, 0.0, 0, json!({})),
        ]),
    );
    let started = Instant::now();
    let capture = capture_config(
        Config::new()
            .service_name("shop")
            .sampler(SamplerKind::Xray)
            .xray_sampling(
                XraySampling::new().endpoint(format!("http://127.0.0.1:{}", api.port())),
            ),
    );
    let (runtime, base) = serve();
    let client = reqwest::Client::new();
    let orders = format!("{base}/api/orders");

    // The rules arrive off the application's threads: once they have, POSTs
    // to the API are sampled by their rule.
    assert!(
        wait_for(Duration::from_secs(10), || {
            send(&runtime, &client, "POST", &orders, 1, None);
            sampled(&capture, "POST", "/api/").contains(&Some("api-posts".into()))
        }),
        "no rules from the sampling API: {:?}",
        api.records()
    );
    capture.clear();
    send(
        &runtime,
        &client,
        "GET",
        &format!("{base}/health"),
        20,
        None,
    );
    send(&runtime, &client, "POST", &orders, 20, None);
    send(&runtime, &client, "GET", &format!("{base}/other"), 5, None);
    assert!(
        sampled(&capture, "GET", "/health").is_empty(),
        "health checks are dropped"
    );
    assert_eq!(
        sampled(&capture, "GET", "/other"),
        Vec::<Option<String>>::new()
    );
    assert_eq!(
        sampled(&capture, "POST", "/api/"),
        vec![Some("api-posts".to_string()); 20]
    );
    // A caller that defers the decision is told it; one that made it is followed.
    let root = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8";
    let told = send(
        &runtime,
        &client,
        "GET",
        &format!("{base}/health"),
        1,
        Some(&format!("{root};Sampled=?")),
    );
    assert!(told.is_some_and(|h| h.ends_with("Sampled=0")));
    let told = send(
        &runtime,
        &client,
        "POST",
        &orders,
        1,
        Some(&format!("{root};Sampled=?")),
    );
    assert!(told.is_some_and(|h| h.ends_with("Sampled=1")));
    send(
        &runtime,
        &client,
        "GET",
        &format!("{base}/health"),
        1,
        Some(&format!("{root};Sampled=1")),
    );
    assert_eq!(
        sampled(&capture, "GET", "/health"),
        vec![None],
        "the caller's decision, no rule"
    );

    // Statistics go out about 10 s after start, counted per rule.
    assert!(
        wait_for(Duration::from_secs(15), || !calls(&api, "/SamplingTargets")
            .is_empty()),
        "no statistics within 15 s"
    );
    let first_report = started.elapsed();
    let report = &calls(&api, "/SamplingTargets")[0]["body"];
    let docs: HashMap<String, Value> = report["SamplingStatisticsDocuments"]
        .as_array()
        .expect("statistics")
        .iter()
        .map(|d| (d["RuleName"].as_str().unwrap_or("").to_string(), d.clone()))
        .collect();
    assert!(
        docs["health"]["RequestCount"].as_u64() >= Some(21),
        "{docs:?}"
    );
    assert_eq!(docs["health"]["SampledCount"], 0);
    let posts = &docs["api-posts"];
    assert!(posts["RequestCount"].as_u64() >= Some(21));
    assert_eq!(posts["SampledCount"], posts["RequestCount"]);
    let client_id = posts["ClientID"].as_str().expect("a client id");
    assert!(client_id.len() == 24 && client_id.chars().all(|c| c.is_ascii_hexdigit()));

    // A quota change in X-Ray reaches the service within one targets
    // interval: GETs of the API, one a second until now, five from then.
    capture.clear();
    send(&runtime, &client, "GET", &orders, 30, None);
    let before = sampled(&capture, "GET", "/api/").len();
    assert!(
        (1..=2).contains(&before),
        "{before} GETs sampled from a quota of 1 a second"
    );
    api.control(
        "/_control/targets",
        &json!({"api-gets": {"ReservoirQuota": 5, "ReservoirQuotaTTL": 60, "Interval": 1}})
            .to_string(),
        None,
    );
    let changed = Instant::now();
    let reports = calls(&api, "/SamplingTargets").len();
    assert!(
        wait_for(Duration::from_secs(12), || calls(&api, "/SamplingTargets")
            .len()
            > reports),
        "no statistics after the quota change"
    );
    let applied_after = changed.elapsed();
    assert!(
        applied_after <= Duration::from_secs(11),
        "{applied_after:?} (first report after {first_report:?})"
    );
    thread::sleep(Duration::from_millis(300));
    capture.clear();
    send(&runtime, &client, "GET", &orders, 30, None);
    let after = sampled(&capture, "GET", "/api/");
    assert!(
        (5..=10).contains(&after.len()),
        "{} GETs sampled from a quota of 5 a second",
        after.len()
    );
    assert!(after.iter().all(|rule| rule.as_deref() == Some("api-gets")));

    // Rules changed in X-Ray are fetched at once (the targets answer says
    // so), not at the next polling interval (5 minutes).
    let fetches = calls(&api, "/GetSamplingRules").len();
    api.control(
        "/_control/rules",
        &json!([
            rule("health", 1, 1.0, 0, json!({"URLPath": "/health"})),
            rule("Default", 10000, 0.0, 0, json!({})),
        ])
        .to_string(),
        None,
    );
    assert!(
        wait_for(Duration::from_secs(5), || calls(&api, "/GetSamplingRules")
            .len()
            > fetches),
        "the changed rules were not fetched"
    );
    capture.clear();
    assert!(
        wait_for(Duration::from_secs(3), || {
            send(&runtime, &client, "GET", &format!("{base}/health"), 1, None);
            sampled(&capture, "GET", "/health").contains(&Some("health".into()))
        }),
        "health checks are sampled by the new rule"
    );
    drop(capture);
}

/// The environment of a `sampling_app` polling `api`.
fn app_env(api_port: u16, polling: u64) -> Vec<(&'static str, String)> {
    vec![
        ("OTEL_TRACES_SAMPLER", "xray".to_string()),
        (
            "OTEL_TRACES_SAMPLER_ARG",
            format!("endpoint=http://127.0.0.1:{api_port},polling_interval={polling}"),
        ),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".to_string()),
    ]
}

fn run_app(seconds: f64, paths: &[&str], env: &[(&'static str, String)]) -> (Run, f64) {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut args = vec![seconds.to_string()];
    args.extend(paths.iter().map(|p| p.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let started = now_secs();
    (run(APP, &args, &env), started)
}

fn lines_with<'a>(stderr: &'a str, needle: &str) -> Vec<&'a str> {
    stderr.lines().filter(|l| l.contains(needle)).collect()
}

#[test]
fn a_proxy_that_is_down_or_answers_garbage_is_said_once_and_recovered_from() {
    let dir = scratch("outage");
    let api = sampling_api(&dir, &json!([rule("everything", 1, 1.0, 0, json!({}))]));
    set_mode(&api, json!({"mode": "down"}));
    let app = {
        let env = app_env(api.port(), 10);
        thread::spawn(move || run_app(12.0, &["/a"], &env))
    };
    thread::sleep(Duration::from_millis(2500));
    set_mode(&api, json!({"mode": "garbage"}));
    thread::sleep(Duration::from_millis(3000));
    set_mode(&api, json!({"mode": "ok"}));
    let (run, started) = app.join().expect("the app ran");
    assert!(run.status.success(), "{run}");
    let failed = lines_with(&run.stderr, "sampling proxy at http://127.0.0.1");
    assert_eq!(
        failed.len(),
        2,
        "one line when it fails, one when it is back{run}"
    );
    assert!(
        failed[0].contains("failed") && failed[0].contains("local rules decide"),
        "{run}"
    );
    assert!(failed[1].contains("answers again"), "{run}");
    let roots = app_roots(&run, started);
    // (Answers in `garbage` mode are 200s too.)
    let fetched = calls(&api, "/GetSamplingRules")
        .iter()
        .filter(|r| r["status"] == 200 && r["mode"] == "ok")
        .map(|r| r["time"].as_f64().unwrap_or(0.0) - started)
        .next()
        .expect("the rules were fetched once the API was back");
    assert!(
        fetched < 11.0,
        "rules fetched {fetched:.1} s after start{run}"
    );
    // Until then the local default rule decided (1 a second and 5%);
    // after, every root, by the rule from X-Ray.
    let before: Vec<_> = roots.iter().filter(|r| r.0 < fetched - 0.2).collect();
    let after: Vec<_> = roots.iter().filter(|r| r.0 > fetched + 0.5).collect();
    let windows = (fetched - 0.2).max(0.0);
    assert!(
        (before.len() as f64) < 2.0 * windows + 0.15 * 100.0 * windows + 10.0,
        "{} sampled in {windows:.1} s under the default rule",
        before.len()
    );
    assert!(before.iter().all(|r| r.2 == "Default"), "{before:?}");
    // (A root every 10 ms at most; at least 30 a second even on a busy machine.)
    let expected_after = ((12.0 - fetched - 1.0) * 30.0) as usize;
    assert!(
        after.len() >= expected_after,
        "{} sampled after the rules came",
        after.len()
    );
    assert!(after.iter().all(|r| r.2 == "everything"));
}

#[test]
fn a_hung_proxy_never_slows_decisions_and_the_last_rules_keep_deciding() {
    let dir = scratch("hung");
    let api = sampling_api(
        &dir,
        &json!([
            rule("health", 1, 0.0, 0, json!({"URLPath": "/health"})),
            rule("everything", 2, 1.0, 0, json!({})),
        ]),
    );
    let app = {
        let env = app_env(api.port(), 10);
        thread::spawn(move || run_app(17.0, &["/a", "/health"], &env))
    };
    assert!(
        wait_for(Duration::from_secs(5), || calls(&api, "/GetSamplingRules")
            .iter()
            .any(|r| r["status"] == 200)),
        "rules fetched"
    );
    // From now on every call hangs: the statistics due at 10 s time out.
    set_mode(&api, json!({"mode": "hang"}));
    let (run, started) = app.join().expect("the app ran");
    assert!(run.status.success(), "{run}");
    let failed = lines_with(&run.stderr, "sampling proxy at http://127.0.0.1");
    assert_eq!(failed.len(), 1, "{run}");
    assert!(
        failed[0].contains("did not answer within 5 s")
            && failed[0].contains("the rules fetched last keep deciding"),
        "{run}"
    );
    // Once the rules are in (within the first second), only their rules.
    let roots: Vec<_> = app_roots(&run, started)
        .into_iter()
        .filter(|r| r.0 >= 1.0)
        .collect();
    assert!(
        roots.iter().all(|r| r.1 == "/a" && r.2 == "everything"),
        "health never sampled: {roots:?}"
    );
    // About 100 roots a second while the proxy hangs (from 10 s, the
    // statistics wait 5 s for an answer): decisions never wait for it.
    for second in 2..16 {
        let count = roots
            .iter()
            .filter(|r| r.0 >= f64::from(second) && r.0 < f64::from(second + 1))
            .count();
        assert!(count >= 30, "{count} roots in second {second}{run}");
    }
}

#[test]
fn a_bad_rules_file_is_named_with_the_position_and_the_default_rule_decides() {
    let dir = scratch("bad-file");
    let file = dir.join("rules.json");
    std::fs::write(
        &file,
        "{\n  \"version\": 2,\n  \"rules\": [\n    {\"description\": 7,}\n  ]\n}\n",
    )
    .expect("write");
    let env = vec![
        ("OTEL_TRACES_SAMPLER", "xray".to_string()),
        (
            "OTEL_TRACES_SAMPLER_ARG",
            format!("endpoint=none,rules={}", file.display()),
        ),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".to_string()),
    ];
    let (run, started) = run_app(2.0, &["/a", "/b"], &env);
    assert!(run.status.success(), "{run}");
    let lines = lines_with(&run.stderr, "sampling rules file");
    assert_eq!(lines.len(), 1, "{run}");
    assert!(
        lines[0].contains(&file.display().to_string())
            && lines[0].contains("line 4")
            && lines[0].contains("using the default rule"),
        "{run}"
    );
    // About 400 roots in 2 s: one a second and 5% of the rest.
    let roots = app_roots(&run, started);
    assert!(
        (2..=60).contains(&roots.len()),
        "{} sampled{run}",
        roots.len()
    );
    assert!(roots.iter().all(|r| r.2 == "Default"));
}

#[test]
fn statistics_have_the_shape_the_python_sdk_sends_and_rules_pick_alike() {
    let dir = scratch("python-sdk");
    let api = sampling_api(
        &dir,
        &json!([
            rule("health", 1, 0.0, 0, json!({"URLPath": "/health"})),
            rule("api", 2, 1.0, 0, json!({"URLPath": "/api/*"})),
            rule("Default", 10000, 0.0, 0, json!({})),
        ]),
    );
    let port = api.port();
    let python = thread::spawn(move || {
        Command::new(peers_python())
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("python/sdk_sampler.py"))
            .args([port.to_string().as_str(), "12", "/health", "/api/items"])
            .env("AWS_XRAY_SDK_ENABLED", "true")
            .output()
            .expect("the Python SDK ran")
    });
    let (run, started) = run_app(12.0, &["/health", "/api/items"], &app_env(port, 10));
    let python = python.join().expect("joined");
    assert!(
        python.status.success(),
        "{}",
        String::from_utf8_lossy(&python.stderr)
    );
    assert!(run.status.success(), "{run}");

    // Both pick the same rules: health never sampled, the API always.
    let theirs: HashMap<String, u64> =
        serde_json::from_slice(&python.stdout).expect("the SDK's counts");
    assert_eq!(theirs["/health"], 0);
    assert!(theirs["/api/items"] > 500, "{theirs:?}");
    // (After one second: before the rules arrive, local rules decide.)
    let ours: Vec<_> = app_roots(&run, started)
        .into_iter()
        .filter(|r| r.0 >= 1.0)
        .collect();
    assert!(
        ours.iter().all(|r| r.1 == "/api/items" && r.2 == "api"),
        "{ours:?}"
    );
    assert!(ours.len() > 500);

    // The statistics documents: same keys, same kinds of values.
    let shape = |doc: &Value| -> Vec<(String, &'static str)> {
        let mut keys: Vec<_> = doc
            .as_object()
            .expect("a document")
            .iter()
            .map(|(k, v)| {
                let kind = match v {
                    Value::String(_) => "string",
                    Value::Number(n) if n.is_u64() => "integer",
                    Value::Number(_) => "number",
                    _ => "other",
                };
                // Timestamps: whole or not, both are epoch seconds.
                let kind = if k == "Timestamp" && kind != "string" {
                    "number"
                } else {
                    kind
                };
                (k.clone(), kind)
            })
            .collect();
        keys.sort();
        keys
    };
    let reports = calls(&api, "/SamplingTargets");
    let from = |python: bool| -> Vec<Value> {
        reports
            .iter()
            .filter(|r| {
                let agent = r["headers"]["user-agent"].as_str().unwrap_or("");
                agent.contains("Botocore") == python
            })
            .flat_map(|r| {
                r["body"]["SamplingStatisticsDocuments"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .collect()
    };
    let (python_docs, our_docs) = (from(true), from(false));
    assert!(
        !python_docs.is_empty() && !our_docs.is_empty(),
        "{reports:?}"
    );
    let python_shape = shape(&python_docs[0]);
    for doc in python_docs.iter().chain(&our_docs) {
        assert_eq!(shape(doc), python_shape, "{doc}");
        let id = doc["ClientID"].as_str().unwrap_or("");
        assert!(
            id.len() == 24 && id.chars().all(|c| c.is_ascii_hexdigit()),
            "{doc}"
        );
    }
    let names = |docs: &[Value]| {
        let mut names: Vec<String> = docs
            .iter()
            .map(|d| d["RuleName"].as_str().unwrap_or("").to_string())
            .collect();
        names.sort();
        names.dedup();
        names
    };
    assert_eq!(names(&our_docs), names(&python_docs));
}

#[traced]
async fn load_cart() {}

/// Routes that succeed, fail and are slow, each with a child span.
fn anomalous_routes() -> axum::Router {
    use axum::http::StatusCode;
    use axum::routing::get;
    axum::Router::new()
        .route(
            "/ok",
            get(|| async {
                load_cart().await;
                "ok"
            }),
        )
        .route(
            "/fail",
            get(|| async {
                load_cart().await;
                (StatusCode::INTERNAL_SERVER_ERROR, "failed")
            }),
        )
        .route(
            "/slow",
            get(|| async {
                load_cart().await;
                tokio::time::sleep(Duration::from_millis(80)).await;
                "slow"
            }),
        )
}

#[test]
fn sampled_out_traces_that_end_in_an_anomaly_are_captured_whole_within_the_limit() {
    let dir = scratch("capture");
    let file = write(
        &dir,
        "rules.json",
        &json!({"version": 2, "default": {"fixed_target": 0, "rate": 0.0}}),
    );
    let adaptive = json!({
        "version": 1.0,
        "anomalyConditions": [
            {"errorCodeRegex": "^5\\d\\d$", "usage": "anomaly-trace-capture"},
            {"highLatencyMs": 50, "operations": ["GET /slow"], "usage": "both"}
        ],
        "anomalyCaptureLimit": {"anomalyTracesPerSecond": 2}
    });
    let capture = capture_config(
        Config::new()
            .service_name("shop")
            .sampler(SamplerKind::Xray)
            .xray_sampling(
                XraySampling::new()
                    .local_only()
                    .rules_file(&file)
                    .adaptive(adaptive.to_string()),
            ),
    );
    let (runtime, base) = serve_routes(anomalous_routes());
    let client = reqwest::Client::new();
    // A caller that asks is told the trace was not sampled, even while it
    // is held for capture.
    let root = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8";
    let told = send(
        &runtime,
        &client,
        "GET",
        &format!("{base}/ok"),
        1,
        Some(&format!("{root};Sampled=?")),
    );
    assert!(told.is_some_and(|h| h.ends_with("Sampled=0")));
    send(&runtime, &client, "GET", &format!("{base}/ok"), 10, None);
    let started = Instant::now();
    send(&runtime, &client, "GET", &format!("{base}/fail"), 10, None);
    let burst = started.elapsed();
    thread::sleep(Duration::from_millis(1100));
    send(&runtime, &client, "GET", &format!("{base}/slow"), 1, None);

    let spans = capture.spans();
    let servers: Vec<_> = spans
        .iter()
        .filter(|s| s.name.starts_with("GET "))
        .collect();
    let by_path = |path: &str| -> Vec<xray_runtime::testing::FinishedSpan> {
        servers
            .iter()
            .filter(|s| s.attr_str("url.path") == Some(path))
            .map(|s| (*s).clone())
            .collect()
    };
    assert!(
        by_path("/ok").is_empty(),
        "no anomaly, not captured: {servers:#?}"
    );
    let failed = by_path("/fail");
    // Two a second; the burst may straddle a second.
    let limit = if burst < Duration::from_millis(900) {
        2..=4
    } else {
        2..=6
    };
    assert!(
        limit.contains(&failed.len()),
        "{} of 10 failures captured in {burst:?}",
        failed.len()
    );
    let slow = by_path("/slow");
    assert_eq!(slow.len(), 1, "a slow request is an anomaly too");
    // Captured whole: each captured trace has its child span, and nothing
    // of the traces that were let go is exported.
    for server in failed.iter().chain(&slow) {
        assert!(server.attr_i64("http.response.status_code").is_some());
        let children = capture.children(server);
        assert_eq!(children.len(), 1, "{server:#?}");
        assert_eq!(children[0].name, "load_cart");
        assert_eq!(server.attr_str(SAMPLING_RULE_KEY), Some("Default"));
    }
    assert_eq!(spans.len(), 2 * (failed.len() + 1), "{spans:#?}");
    drop(capture);
}

#[test]
fn anomalies_are_reported_for_sampling_boosts_and_a_boost_raises_the_rate() {
    let dir = scratch("boost");
    let mut api_rule = rule("api", 1, 0.0, 0, json!({"URLPath": "/*"}));
    api_rule["SamplingRateBoost"] = json!({"MaxRate": 1.0, "CooldownWindowMinutes": 1});
    let api = sampling_api(
        &dir,
        &json!([api_rule, rule("Default", 10000, 0.0, 0, json!({}))]),
    );
    // X-Ray answers the first statistics with a boost to 100%.
    api.control(
        "/_control/targets",
        &json!({"api": {"SamplingBoost": {"BoostRate": 1.0, "BoostRateTTL": 60}}}).to_string(),
        None,
    );
    let capture = capture_config(
        Config::new()
            .service_name("shop")
            .sampler(SamplerKind::Xray)
            .xray_sampling(
                XraySampling::new().endpoint(format!("http://127.0.0.1:{}", api.port())),
            ),
    );
    let (runtime, base) = serve_routes(anomalous_routes());
    let client = reqwest::Client::new();
    assert!(
        wait_for(Duration::from_secs(10), || calls(&api, "/GetSamplingRules")
            .iter()
            .any(|r| r["status"] == 200)),
        "rules fetched"
    );
    thread::sleep(Duration::from_millis(300));
    send(&runtime, &client, "GET", &format!("{base}/ok"), 20, None);
    send(&runtime, &client, "GET", &format!("{base}/fail"), 10, None);
    assert!(
        capture.spans().is_empty(),
        "rate 0 and no reservoir: nothing sampled yet"
    );
    assert!(
        wait_for(Duration::from_secs(15), || !calls(&api, "/SamplingTargets")
            .is_empty()),
        "no statistics"
    );
    let report = calls(&api, "/SamplingTargets")[0]["body"].clone();
    let boosts = report["SamplingBoostStatisticsDocuments"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(boosts.len(), 1, "{report}");
    let boost = &boosts[0];
    assert_eq!(boost["RuleName"], "api");
    assert_eq!(boost["ServiceName"], "shop");
    assert_eq!(boost["TotalCount"], 30, "{boost}");
    assert_eq!(
        boost["AnomalyCount"], 10,
        "5xx are anomalies by default: {boost}"
    );
    assert_eq!(boost["SampledAnomalyCount"], 0, "{boost}");
    // The boost from the answer raises the rate: requests are sampled now.
    thread::sleep(Duration::from_millis(300));
    send(&runtime, &client, "GET", &format!("{base}/ok"), 5, None);
    let sampled: Vec<_> = capture
        .spans()
        .into_iter()
        .filter(|s| s.attr_str("url.path") == Some("/ok"))
        .collect();
    assert_eq!(sampled.len(), 5, "boosted to 100%");
    drop(capture);
}
