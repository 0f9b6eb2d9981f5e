//! Every input format, and errors that say where and why.

#[cfg(feature = "yaml")]
use std::time::Duration;
use xray_sampling::adaptive::ingress_operation;
use xray_sampling::api::{
    GetSamplingRulesRequest, GetSamplingRulesResponse, GetSamplingTargetsRequest,
    GetSamplingTargetsResponse, SamplingBoostStatisticsDocument, SamplingStatisticsDocument,
};
use xray_sampling::{
    AdaptiveSamplingConfig, AnomalyCaptureLimiter, LocalRules, ParseError, SamplingRule,
    parse_sampling_rules,
};
#[cfg(feature = "yaml")]
use xray_sampling::{RootOutcome, adaptive::Usage};

fn err_at(e: ParseError, line: usize, column: usize, reason_part: &str) {
    assert_eq!((e.line, e.column), (line, column), "position of {e}");
    assert!(
        e.reason.contains(reason_part),
        "reason {:?} should mention {reason_part:?}",
        e.reason
    );
    assert!(
        !e.reason.contains(" at line "),
        "the reason repeats the position: {:?}",
        e.reason
    );
    assert!(
        e.to_string()
            .starts_with(&format!("line {line}, column {column}: ")),
        "{e}"
    );
}

// ---------------------------------------------------------------- local rules

#[test]
fn local_v2() {
    let rules = LocalRules::parse(
        r#"{
  "version": 2,
  "rules": [
    {"description": "Player moves.", "host": "*", "http_method": "*", "url_path": "/api/move/*",
     "fixed_target": 0, "rate": 0.05, "service_name": "ignored"}
  ],
  "default": {"fixed_target": 1, "rate": 0.1}
}"#,
    )
    .expect("valid");
    assert_eq!(rules.version, 2);
    assert_eq!(rules.rules.len(), 1);
    let r = &rules.rules[0];
    assert_eq!(
        (
            r.description.as_str(),
            r.host.as_str(),
            r.http_method.as_str(),
            r.url_path.as_str()
        ),
        ("Player moves.", "*", "*", "/api/move/*")
    );
    assert_eq!((r.fixed_target, r.rate), (0, 0.05));
    assert_eq!((rules.default.fixed_target, rules.default.rate), (1, 0.1));
    // No rules at all is fine; `version` may be written 2.0.
    let bare =
        LocalRules::parse(r#"{"version": 2.0, "default": {"fixed_target": 1, "rate": 0.05}}"#)
            .expect("valid");
    assert_eq!(bare, LocalRules::sdk_default());
}

#[test]
fn local_v1_reads_service_name_as_the_host_pattern() {
    let rules = LocalRules::parse(
        r#"{"version": 1, "rules": [{"service_name": "*.example.com", "host": "ignored", "http_method": "GET",
            "url_path": "/x", "fixed_target": 1, "rate": 0.5}], "default": {"fixed_target": 1, "rate": 0.1}}"#,
    )
    .expect("valid");
    assert_eq!(rules.version, 1);
    assert_eq!(rules.rules[0].host, "*.example.com");
    // In version 1 a rule without service_name is incomplete even with a host.
    let e = LocalRules::parse(
        r#"{"version": 1, "rules": [{"host": "a", "http_method": "GET", "url_path": "/x", "fixed_target": 1, "rate": 0.5}],
 "default": {"fixed_target": 1, "rate": 0.1}}"#,
    )
    .expect_err("incomplete");
    err_at(e, 1, 111, "url_path, service_name, and http_method");
}

#[test]
fn local_errors() {
    let e = LocalRules::parse(
        "{\n  \"version\": 3,\n  \"default\": {\"fixed_target\": 1, \"rate\": 0.1}\n}",
    )
    .expect_err("v3");
    err_at(e, 2, 14, "manifest version 3 is not supported");

    let e = LocalRules::parse("{\"version\": 2,\n \"rules\": []\n}").expect_err("no default");
    err_at(e, 3, 1, "missing field `default`");

    let e = LocalRules::parse(r#"{"rules": [], "default": {"fixed_target": 1, "rate": 0.1}}"#)
        .expect_err("no version");
    err_at(e, 1, 58, "missing field `version`");

    let e = LocalRules::parse(
        "{\"version\": 2,\n \"default\": {\"fixed_target\": 1, \"rate\": 0.1, \"url_path\": \"/x\"}\n}",
    )
    .expect_err("default with a path");
    err_at(
        e,
        3,
        1,
        "The default rule must not specify values for url_path, host, or http_method",
    );

    let e = LocalRules::parse(
        "{\"version\": 2,\n \"rules\": [\n  {\"host\": \"*\", \"http_method\": \"GET\", \"fixed_target\": 1, \"rate\": 0.1}\n ],\n \"default\": {\"fixed_target\": 1, \"rate\": 0.1}\n}",
    )
    .expect_err("no url_path");
    err_at(
        e,
        4,
        2,
        "All non-default rules must have values for url_path, host, and http_method",
    );

    let e = LocalRules::parse(
        "{\"version\": 2,\n \"default\": {\"fixed_target\": 1, \"rate\": -0.1}\n}",
    )
    .expect_err("negative rate");
    err_at(e, 2, 45, "non-negative values for fixed_target and rate");

    let e = LocalRules::parse(
        "{\"version\": 2,\n \"default\": {\"fixed_target\": 1.5, \"rate\": 0.1}\n}",
    )
    .expect_err("1.5");
    err_at(e, 2, 32, "not a whole number");

    let e = LocalRules::parse("{\"version\": 2,\n \"default\": {\"rate\": 0.1}\n}")
        .expect_err("no fixed_target");
    err_at(e, 3, 1, "non-negative values for fixed_target and rate");

    let e = LocalRules::parse(
        "{\"version\": 2,\n \"default\": {\"fixed_target\": 1, \"rate\": 0.1},\n}",
    )
    .expect_err("syntax");
    err_at(e, 3, 1, "trailing comma");

    let e = LocalRules::parse("").expect_err("empty");
    err_at(e, 1, 0, "EOF");
}

// ------------------------------------------------------------ API rule JSON

const RULE: &str = r#"{
    "RuleName": "api",
    "RuleARN": "arn:aws:xray:us-east-1:123456789012:sampling-rule/api",
    "ResourceARN": "*",
    "Priority": 10,
    "FixedRate": 0.25,
    "ReservoirSize": 5,
    "ServiceName": "orders",
    "ServiceType": "AWS::ECS::Container",
    "Host": "*",
    "HTTPMethod": "GET",
    "URLPath": "/api/*",
    "Version": 1,
    "Attributes": {"tenant": "gold", "region": "eu-*"},
    "SamplingRateBoost": {"MaxRate": 0.5, "CooldownWindowMinutes": 10},
    "SomeFutureField": {"ignored": true}
}"#;

fn expected_rule() -> SamplingRule {
    SamplingRule::new("api", 10, 0.25, 5)
        .with_service_name("orders")
        .with_service_type("AWS::ECS::Container")
        .with_http_method("GET")
        .with_url_path("/api/*")
        .with_attribute("tenant", "gold")
        .with_attribute("region", "eu-*")
        .with_rate_boost(0.5, 10)
}

#[test]
fn api_rule_forms() {
    let want = vec![expected_rule()];
    assert_eq!(parse_sampling_rules(RULE).expect("bare"), want);
    let create =
        format!(r#"{{"SamplingRule": {RULE}, "Tags": [{{"Key": "team", "Value": "checkout"}}]}}"#);
    assert_eq!(
        parse_sampling_rules(&create).expect("create-sampling-rule input"),
        want
    );
    assert_eq!(
        parse_sampling_rules(&format!("[{RULE}, {RULE}]"))
            .expect("list")
            .len(),
        2
    );
    assert_eq!(
        parse_sampling_rules(&format!(r#"[{{"SamplingRule": {RULE}}}]"#)).expect("list of wrapped"),
        want
    );
    assert!(parse_sampling_rules("[]").expect("empty list").is_empty());
    let records = format!(
        r#"{{"SamplingRuleRecords": [{{"SamplingRule": {RULE}, "CreatedAt": "2018-11-20T15:38:42+00:00",
            "ModifiedAt": 1700000000.5}}], "NextToken": "abc"}}"#
    );
    assert_eq!(parse_sampling_rules(&records).expect("records"), want);
    let response = GetSamplingRulesResponse::from_json(&records).expect("response");
    assert_eq!(response.next_token.as_deref(), Some("abc"));
    assert_eq!(
        response.sampling_rule_records[0].created_at,
        Some(1_542_728_322.0)
    );
    assert_eq!(
        response.sampling_rule_records[0].modified_at,
        Some(1_700_000_000.5)
    );
    // Serialising a rule gives the API's JSON back.
    let again: SamplingRule =
        serde_json::from_str(&serde_json::to_string(&expected_rule()).expect("json"))
            .expect("round trip");
    assert_eq!(again, expected_rule());
}

#[test]
fn api_rule_fields_the_python_sdk_tolerates_missing() {
    let rules = parse_sampling_rules(
        r#"{"RuleName": "r", "Priority": 1, "FixedRate": 0, "ReservoirSize": 0, "ServiceName": "*",
            "Host": "*", "HTTPMethod": "*", "URLPath": "*"}"#,
    )
    .expect("ServiceType, ResourceARN and Version may be missing");
    assert_eq!(
        (
            rules[0].version,
            rules[0].service_type.as_str(),
            rules[0].resource_arn.as_str()
        ),
        (0, "", "")
    );
    assert!(rules[0].skip_reason().is_some());
}

#[test]
fn api_rule_errors() {
    let bad_rate = RULE.replace("\"FixedRate\": 0.25", "\"FixedRate\": 1.5");
    err_at(
        parse_sampling_rules(&bad_rate).expect_err("rate"),
        6,
        20,
        "rate 1.5 is not between 0 and 1",
    );

    let no_host = RULE.replace("\"Host\": \"*\",\n", "");
    err_at(
        parse_sampling_rules(&no_host).expect_err("host"),
        16,
        1,
        "missing field `Host`",
    );

    let negative = RULE.replace("\"ReservoirSize\": 5", "\"ReservoirSize\": -1");
    err_at(
        parse_sampling_rules(&negative).expect_err("reservoir"),
        7,
        23,
        "invalid value: integer `-1`",
    );

    let records = format!(
        r#"{{"SamplingRuleRecords": [{{"SamplingRule": {}}}]}}"#,
        RULE.replace("\"Priority\": 10", "\"Priority\": \"high\"")
    );
    err_at(
        parse_sampling_rules(&records).expect_err("priority"),
        5,
        22,
        "invalid type: string \"high\"",
    );

    let bad_time = format!(
        r#"{{"SamplingRuleRecords": [{{"SamplingRule": {RULE}, "CreatedAt": "yesterday"}}]}}"#
    );
    err_at(
        parse_sampling_rules(&bad_time).expect_err("time"),
        17,
        27,
        "invalid timestamp \"yesterday\"",
    );

    err_at(
        parse_sampling_rules("{\"RuleName\": \"x\",}").expect_err("syntax"),
        1,
        18,
        "trailing comma",
    );
    err_at(
        parse_sampling_rules("[1]").expect_err("not a rule"),
        1,
        2,
        "invalid type: integer `1`",
    );
}

// ------------------------------------------------------------- API bodies

#[test]
fn request_bodies() {
    assert_eq!(GetSamplingRulesRequest::default().to_json(), "{}");
    assert_eq!(
        GetSamplingRulesRequest {
            next_token: Some("t".into())
        }
        .to_json(),
        r#"{"NextToken":"t"}"#
    );
    let stats = SamplingStatisticsDocument {
        rule_name: "r".into(),
        client_id: "0123456789abcdef01234567".into(),
        timestamp: 1_700_000_000,
        request_count: 10,
        sampled_count: 3,
        borrow_count: 1,
    };
    let boost = SamplingBoostStatisticsDocument {
        rule_name: "r".into(),
        service_name: "svc".into(),
        timestamp: 1_700_000_000,
        anomaly_count: 2,
        total_count: 10,
        sampled_anomaly_count: 1,
    };
    let only_stats = GetSamplingTargetsRequest {
        sampling_statistics_documents: vec![stats.clone()],
        sampling_boost_statistics_documents: vec![],
    };
    assert_eq!(
        only_stats.to_json(),
        r#"{"SamplingStatisticsDocuments":[{"RuleName":"r","ClientID":"0123456789abcdef01234567","Timestamp":1700000000,"RequestCount":10,"SampledCount":3,"BorrowCount":1}]}"#
    );
    let both = GetSamplingTargetsRequest {
        sampling_statistics_documents: vec![stats],
        sampling_boost_statistics_documents: vec![boost],
    };
    let json = both.to_json();
    assert!(json.ends_with(
        r#""SamplingBoostStatisticsDocuments":[{"RuleName":"r","ServiceName":"svc","Timestamp":1700000000,"AnomalyCount":2,"TotalCount":10,"SampledAnomalyCount":1}]}"#
    ), "{json}");
    let back: GetSamplingTargetsRequest = serde_json::from_str(&json).expect("round trip");
    assert_eq!(back, both);
}

#[test]
fn targets_response() {
    let r = GetSamplingTargetsResponse::from_json(
        r#"{
  "SamplingTargetDocuments": [
    {"RuleName": "a", "FixedRate": 0.1, "ReservoirQuota": 2, "ReservoirQuotaTTL": 1700000010.5, "Interval": 10,
     "SamplingBoost": {"BoostRate": 0.6, "BoostRateTTL": 1700000060}},
    {"RuleName": "b", "FixedRate": 0.05}
  ],
  "LastRuleModification": 1699999999.25,
  "UnprocessedStatistics": [{"RuleName": "c", "ErrorCode": "400", "Message": "unknown rule"}],
  "UnprocessedBoostStatistics": []
}"#,
    )
    .expect("valid");
    let a = &r.sampling_target_documents[0];
    assert_eq!(
        (
            a.fixed_rate,
            a.reservoir_quota,
            a.reservoir_quota_ttl,
            a.interval
        ),
        (Some(0.1), Some(2), Some(1_700_000_010.5), Some(10))
    );
    let boost = a.sampling_boost.expect("boost");
    assert_eq!(
        (boost.boost_rate, boost.boost_rate_ttl),
        (0.6, 1_700_000_060.0)
    );
    let b = &r.sampling_target_documents[1];
    assert_eq!(
        (
            b.reservoir_quota,
            b.reservoir_quota_ttl,
            b.interval,
            b.sampling_boost
        ),
        (None, None, None, None)
    );
    assert_eq!(r.last_rule_modification, Some(1_699_999_999.25));
    assert_eq!(
        r.unprocessed_statistics[0].message.as_deref(),
        Some("unknown rule")
    );
    assert!(r.unprocessed_boost_statistics.is_empty());

    let e = GetSamplingTargetsResponse::from_json("{\"SamplingTargetDocuments\": [{\"RuleName\": \"a\", \"SamplingBoost\": {\"BoostRate\": 0.5}}]}")
        .expect_err("boost without TTL");
    err_at(e, 1, 82, "missing field `BoostRateTTL`");
}

// --------------------------------------------------- adaptive configuration

#[cfg(feature = "yaml")]
#[test]
fn adaptive_yaml_forms() {
    // The documentation's inline form, as the environment variable holds it.
    let inline = AdaptiveSamplingConfig::parse(
        r#"{version: 1.0, anomalyConditions: [{errorCodeRegex: "^500$", usage: "sampling-boost"}, {errorCodeRegex: "^501$", usage: "anomaly-trace-capture"}], anomalyCaptureLimit: {anomalyTracesPerSecond: 10}}"#,
    )
    .expect("inline YAML");
    let conditions = inline.anomaly_conditions.as_deref().expect("conditions");
    assert_eq!(conditions.len(), 2);
    assert_eq!(conditions[0].usage, Some(Usage::SamplingBoost));
    assert_eq!(conditions[1].usage, Some(Usage::AnomalyTraceCapture));
    assert_eq!(inline.capture_limit_per_second(), 10);

    let nested = AdaptiveSamplingConfig::parse(
        r#"
version: 1.0
anomalyConditions:
  - errorCodeRegex: "^5\\d\\d$"
    usage: both
  - operations:
      - "GET /api"
    errorCodeRegex: "^429|5\\d\\d$"
    highLatencyMs: 300
    usage: sampling-boost
  - highLatencyMs: 1000
    usage: anomaly-span-capture
"#,
    )
    .expect("nested YAML");
    let c = nested.anomaly_conditions.as_deref().expect("conditions");
    assert_eq!(
        c[0].error_code_regex.as_ref().map(|r| r.as_str()),
        Some("^5\\d\\d$")
    );
    assert_eq!(
        c[1].operations.as_deref(),
        Some(&["GET /api".to_owned()][..])
    );
    assert_eq!(c[1].high_latency_ms, Some(300));
    assert_eq!(c[2].usage, Some(Usage::AnomalyTraceCapture));
    assert_eq!(nested.capture_limit_per_second(), 1);

    let json = AdaptiveSamplingConfig::from_json(
        r#"{"version": 1, "anomalyConditions": [{"usage": "both", "highLatencyMs": 5}]}"#,
    )
    .expect("JSON");
    assert_eq!(json.version, 1.0);
    assert_eq!(
        AdaptiveSamplingConfig::parse(r#"{"version": "1.5"}"#)
            .expect("string version")
            .version,
        1.5
    );
}

#[cfg(feature = "yaml")]
#[test]
fn adaptive_errors() {
    let e = AdaptiveSamplingConfig::parse(
        "version: 1.0\nanomalyConditions:\n  - errorCodeRegx: \"5..\"\n",
    )
    .expect_err("typo");
    err_at(e, 3, 5, "unknown field `errorCodeRegx`");
    let e = AdaptiveSamplingConfig::parse(
        "version: 1.0\nanomalyConditions:\n  - errorCodeRegex: \"5(\"\n",
    )
    .expect_err("regex");
    assert_eq!(e.line, 3, "{e}");
    assert!(e.reason.contains("invalid errorCodeRegex \"5(\""), "{e}");
    let e = AdaptiveSamplingConfig::parse("version: 2.0\n").expect_err("version 2");
    assert_eq!(e.line, 1, "{e}");
    assert!(e.reason.contains("only 1.x is supported"), "{e}");
    let e = AdaptiveSamplingConfig::parse("anomalyConditions: []\n").expect_err("no version");
    assert!(e.reason.contains("missing field `version`"), "{e}");
    let e =
        AdaptiveSamplingConfig::parse("version: 1.0\nanomalyConditions:\n  - usage: sometimes\n")
            .expect_err("usage");
    assert_eq!(e.line, 3, "{e}");
    assert!(e.reason.contains("invalid usage \"sometimes\""), "{e}");
    let e = AdaptiveSamplingConfig::parse("version: 1.0\nsampling: on\n")
        .expect_err("unknown top-level key");
    assert_eq!(e.line, 2, "{e}");
    assert!(e.reason.contains("unknown field `sampling`"), "{e}");
    let e = AdaptiveSamplingConfig::parse(
        "version: 1.0\nanomalyCaptureLimit: {anomalyTracesPerSecond: -1}\n",
    )
    .expect_err("negative");
    assert_eq!(e.line, 2, "{e}");
    let e = AdaptiveSamplingConfig::from_json(
        "{\"version\": 1.0,\n \"anomalyConditions\": [{\"highLatencyMs\": \"slow\"}]}",
    )
    .expect_err("json");
    err_at(e, 2, 47, "invalid type: string \"slow\"");
    let e = AdaptiveSamplingConfig::parse("  ").expect_err("empty");
    assert_eq!((e.line, e.column), (0, 0));
}

#[cfg(feature = "yaml")]
#[test]
fn adaptive_from_a_file() {
    let path = std::env::temp_dir().join(format!("xray-adaptive-{}.yaml", std::process::id()));
    std::fs::write(
        &path,
        "version: 1.0\nanomalyCaptureLimit:\n  anomalyTracesPerSecond: 3\n",
    )
    .expect("write");
    let config = AdaptiveSamplingConfig::from_env_value(path.to_str().expect("UTF-8 path"));
    let _ = std::fs::remove_file(&path);
    assert_eq!(config.expect("file").capture_limit_per_second(), 3);
    assert_eq!(
        AdaptiveSamplingConfig::from_env_value("{version: 1.0}")
            .expect("inline")
            .anomaly_conditions,
        None
    );
}

#[cfg(feature = "yaml")]
fn root(status: Option<u16>, ms: u64, operation: &str) -> RootOutcome<'_> {
    RootOutcome {
        status_code: status,
        is_error: false,
        latency: Duration::from_millis(ms),
        operation,
    }
}

#[cfg(feature = "yaml")]
#[test]
fn anomaly_classification() {
    let config = AdaptiveSamplingConfig::parse(
        r#"
version: 1.0
anomalyConditions:
  - errorCodeRegex: "^429|5\\d\\d$"
    highLatencyMs: 300
    operations: ["GET /api"]
    usage: sampling-boost
  - errorCodeRegex: "4.."
    usage: anomaly-trace-capture
  - operations: []
    errorCodeRegex: ".*"
  - highLatencyMs: 2000
"#,
    )
    .expect("valid");
    let c = |status, ms, op| {
        let a = config.classify(&root(status, ms, op));
        (a.boost, a.capture)
    };
    // Both criteria of a condition must hold, for its operations only.
    assert_eq!(c(Some(503), 400, "GET /api"), (true, false));
    assert_eq!(c(Some(503), 200, "GET /api"), (false, false));
    assert_eq!(c(Some(503), 400, "GET /other"), (false, false));
    // 429 is both the first (slow) and the second condition.
    assert_eq!(c(Some(429), 400, "GET /api"), (true, true));
    // The regex matches the whole code.
    assert_eq!(c(Some(4000), 0, "x"), (false, false));
    assert_eq!(c(Some(404), 0, "x"), (false, true));
    // An empty operations list applies to nothing.
    assert_eq!(c(Some(200), 0, "x"), (false, false));
    // Latency alone, usage defaulting to both.
    assert_eq!(c(None, 2000, "x"), (true, true));
    assert_eq!(c(None, 1999, "x"), (false, false));

    // Without conditions: 5xx, or an error without status.
    let default = AdaptiveSamplingConfig::parse("version: 1.0").expect("valid");
    assert_eq!(
        default.classify(&root(Some(500), 0, "")),
        xray_sampling::Anomaly {
            boost: true,
            capture: true
        }
    );
    assert!(!default.classify(&root(Some(499), 0, "")).boost);
    let error = RootOutcome {
        is_error: true,
        ..root(None, 0, "")
    };
    assert!(xray_sampling::adaptive::classify(None, &error).boost);
    assert!(
        !xray_sampling::adaptive::classify(
            None,
            &RootOutcome {
                status_code: Some(200),
                ..error
            }
        )
        .boost
    );
    // Present but empty conditions replace the default with nothing.
    let none = AdaptiveSamplingConfig::parse("version: 1.0\nanomalyConditions: []").expect("valid");
    assert!(!none.classify(&root(Some(500), 0, "")).boost);
}

#[test]
fn capture_limiter_and_operations() {
    let limiter = AnomalyCaptureLimiter::for_config(
        &AdaptiveSamplingConfig::from_json(r#"{"version": 1.0}"#).expect("valid"),
    );
    assert!(limiter.try_acquire(10));
    assert!(!limiter.try_acquire(10));
    assert!(limiter.try_acquire(11));
    assert_eq!(ingress_operation("GET", "/api/v1/users"), "GET /api");
    assert_eq!(ingress_operation("POST", "/"), "POST /");
    assert_eq!(ingress_operation("GET", ""), "UnknownOperation");
    assert_eq!(ingress_operation("GET", "orders"), "GET /");
    assert_eq!(ingress_operation("", "/orders/1"), "/orders");
    assert_eq!(ingress_operation("", ""), "UnknownOperation");
}

#[cfg(not(feature = "yaml"))]
#[test]
fn adaptive_is_json_only_without_the_yaml_feature() {
    let config = AdaptiveSamplingConfig::parse(
        r#"{"version": 1.0, "anomalyConditions": [{"usage": "both"}]}"#,
    )
    .expect("JSON");
    assert_eq!(config.anomaly_conditions.map(|c| c.len()), Some(1));
    let e = AdaptiveSamplingConfig::parse("{version: 1.0}").expect_err("YAML flow style");
    err_at(e, 1, 2, "key must be a string");
}

#[test]
fn a_rules_file_in_either_format() {
    let sdk = r#"{"version": 2, "rules": [{"description": "moves", "host": "*",
        "http_method": "*", "url_path": "/api/move/*", "fixed_target": 0, "rate": 0.05}],
        "default": {"fixed_target": 1, "rate": 0.1}}"#;
    let set = xray_sampling::RuleSet::from_rules_file(sdk).expect("SDK format");
    let names: Vec<_> = set.rules().map(|r| r.name.clone()).collect();
    assert_eq!(names, ["moves", "Default"]);
    let cli = r#"{"SamplingRule": {"RuleName": "api", "ResourceARN": "*", "Priority": 10,
        "FixedRate": 0.5, "ReservoirSize": 2, "ServiceName": "*", "ServiceType": "*",
        "Host": "*", "HTTPMethod": "POST", "URLPath": "/api/*", "Version": 1}}"#;
    let set = xray_sampling::RuleSet::from_rules_file(cli).expect("X-Ray format");
    let names: Vec<_> = set.rules().map(|r| r.name.clone()).collect();
    assert_eq!(names, ["api", "Default"]);
    let err = xray_sampling::RuleSet::from_rules_file("{\n  \"version\": 2,\n  \"rules\": [}")
        .expect_err("broken JSON");
    assert_eq!(err.line, 3, "{err}");
    assert!(xray_sampling::RuleSet::from_rules_file(r#"{"version": 3, "default": {}}"#).is_err());
}

#[test]
fn which_configurations_capture_anomalies() {
    use xray_sampling::AdaptiveSamplingConfig;
    let captures = |text: &str| {
        AdaptiveSamplingConfig::from_json(text)
            .expect("valid")
            .captures()
    };
    assert!(
        captures(r#"{"version": 1.0}"#),
        "the default conditions capture"
    );
    assert!(captures(
        r#"{"version": 1.0, "anomalyConditions": [{"errorCodeRegex": "^5\\d\\d$"}]}"#
    ));
    assert!(!captures(
        r#"{"version": 1.0, "anomalyConditions": [{"errorCodeRegex": "^5\\d\\d$", "usage": "sampling-boost"}]}"#
    ));
    assert!(!captures(r#"{"version": 1.0, "anomalyConditions": []}"#));
}
