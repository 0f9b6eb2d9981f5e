//! Straight to AWS, tested with real components: spans go over TLS, gzip
//! compressed and SigV4 signed, to a local OTLP receiver that checks every
//! signature with an independent implementation (botocore's signer), and
//! every failure (wrong CA, missing or expired credentials, an endpoint
//! down or silent) ends the program in time with its own exit code, one
//! clear stderr line and the lost count.

use xray_secure_tests::{Certs, Peer, Run, Value, run, scratch, spans};

/// The test's credentials, known to the receiver.
const ACCESS_KEY: &str = "AKIDXRAYTESTS";
const SECRET_KEY: &str = "xray/secret+test/key";
const SESSION_TOKEN: &str = "xray-session-token";
const REGION: &str = "us-east-1";

fn app() -> &'static str {
    env!("CARGO_BIN_EXE_secure_app")
}

/// A receiver over TLS (server certificate `cert`) that checks SigV4.
fn tls_receiver(certs: &Certs, dir: &std::path::Path, cert: &str, extra: &[&str]) -> Peer {
    let sigv4 = format!("{ACCESS_KEY}:{SECRET_KEY}:{SESSION_TOKEN}");
    let mut args = vec![
        "--tls-cert".to_string(),
        certs.file(&format!("{cert}.pem")),
        "--tls-key".to_string(),
        certs.file(&format!("{cert}-key.pem")),
        "--sigv4".to_string(),
        sigv4,
        "--expect-service".to_string(),
        "xray".to_string(),
        "--expect-region".to_string(),
        REGION.to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Peer::start("otlp_receiver.py", dir, &args)
}

/// The environment of a program sending signed, compressed OTLP over TLS.
fn signed_env(endpoint: &str, ca: &str) -> Vec<(&'static str, String)> {
    vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.to_string()),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca.to_string()),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip".to_string()),
        ("XRAY_OTLP_SIGV4", "true".to_string()),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_string()),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_string()),
        ("AWS_SESSION_TOKEN", SESSION_TOKEN.to_string()),
        ("AWS_REGION", REGION.to_string()),
    ]
}

fn borrow<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn assert_signed_gzip_tls(records: &[Value], run: &Run) {
    assert!(!records.is_empty(), "nothing arrived{run}");
    for record in records {
        assert_eq!(record["sigv4"]["ok"], true, "{record}{run}");
        assert_eq!(record["sigv4"]["service"], "xray", "{record}");
        assert_eq!(record["sigv4"]["region"], REGION, "{record}");
        assert_eq!(record["compressed"], true, "{record}");
        assert_eq!(record["tls"], true, "{record}");
        assert_eq!(record["status"], 200, "{record}");
        assert_eq!(
            record["headers"]["x-amz-security-token"], SESSION_TOKEN,
            "{record}"
        );
    }
}

#[test]
fn spans_go_over_tls_gzip_and_signed_and_botocore_accepts_every_signature() {
    let dir = scratch("signed");
    let certs = Certs::generate(&dir);
    let receiver = tls_receiver(&certs, &dir, "server", &[]);
    let endpoint = format!("https://127.0.0.1:{}", receiver.port());
    let env = signed_env(&endpoint, &certs.file("ca.pem"));
    let run = run(app(), &[], &borrow(&env));
    assert!(run.status.success(), "{run}");
    let records = receiver.records();
    assert_signed_gzip_tls(&records, &run);
    let spans = spans(&records);
    assert_eq!(spans.len(), 20, "10 requests of two spans{run}");
    assert!(
        records[0]["resource_attributes"]["service.name"] == "secure-app",
        "{}",
        records[0]
    );
    assert!(!run.stderr.contains("lost"), "{run}");
}

#[test]
fn mutual_tls_sends_the_client_certificate_and_refuses_without_it() {
    let dir = scratch("mtls");
    let certs = Certs::generate(&dir);
    let client_ca = certs.file("ca.pem");
    let receiver = tls_receiver(&certs, &dir, "server", &["--client-ca", &client_ca]);
    let endpoint = format!("https://127.0.0.1:{}", receiver.port());
    let mut env = signed_env(&endpoint, &certs.file("ca.pem"));
    env.push((
        "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
        certs.file("client.pem"),
    ));
    env.push((
        "OTEL_EXPORTER_OTLP_CLIENT_KEY",
        certs.file("client-key.pem"),
    ));
    let with = run(app(), &[], &borrow(&env));
    assert!(with.status.success(), "{with}");
    let records = receiver.records();
    assert_signed_gzip_tls(&records, &with);
    assert!(
        records[0]["client_cert_subject"]
            .as_str()
            .is_some_and(|s| s.contains("client")),
        "{}",
        records[0]
    );

    // Without the client certificate the handshake is refused: every span
    // is lost, counted and said, and the program exits with its own code.
    let env = signed_env(&endpoint, &certs.file("ca.pem"));
    let mut env = borrow(&env);
    env.extend([
        ("EXIT_CODE", "3"),
        ("OTEL_BSP_EXPORT_TIMEOUT", "2000"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "1000"),
    ]);
    let without = run(app(), &[], &env);
    assert_eq!(without.status.code(), Some(3), "{without}");
    assert!(
        without
            .stderr
            .contains("at shutdown: spans 0 exported, 20 lost"),
        "{without}"
    );
    assert_eq!(
        receiver.records().len(),
        records.len(),
        "nothing more arrived"
    );
}

#[test]
fn a_server_certificate_from_another_ca_is_refused() {
    let dir = scratch("wrong-ca");
    let certs = Certs::generate(&dir);
    let receiver = tls_receiver(&certs, &dir, "other-server", &[]);
    let endpoint = format!("https://127.0.0.1:{}", receiver.port());
    let env = signed_env(&endpoint, &certs.file("ca.pem"));
    let mut env = borrow(&env);
    env.extend([
        ("EXIT_CODE", "4"),
        ("OTEL_BSP_EXPORT_TIMEOUT", "2000"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "1000"),
    ]);
    let run = run(app(), &[], &env);
    assert_eq!(run.status.code(), Some(4), "{run}");
    assert!(run.elapsed.as_secs() < 10, "{run}");
    assert!(
        run.stderr
            .contains("at shutdown: spans 0 exported, 20 lost"),
        "{run}"
    );
    assert!(
        run.stderr.to_ascii_lowercase().contains("certificate"),
        "the stderr line says why{run}"
    );
    assert!(receiver.records().is_empty());
}

#[test]
fn an_unreadable_ca_file_is_named_and_the_program_runs() {
    let dir = scratch("missing-ca");
    let certs = Certs::generate(&dir);
    let receiver = tls_receiver(&certs, &dir, "server", &[]);
    let endpoint = format!("https://127.0.0.1:{}", receiver.port());
    let missing = dir.join("nowhere.pem").to_string_lossy().into_owned();
    let env = signed_env(&endpoint, &missing);
    let mut env = borrow(&env);
    env.extend([
        ("OTEL_BSP_EXPORT_TIMEOUT", "2000"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "1000"),
    ]);
    let run = run(app(), &[], &env);
    assert!(run.status.success(), "{run}");
    let line = format!("OTEL_EXPORTER_OTLP_CERTIFICATE={missing}");
    assert_eq!(run.stderr.matches(&line).count(), 1, "{run}");
    // Without its CA the receiver's certificate is not trusted.
    assert!(run.stderr.contains("20 lost"), "{run}");
}

#[test]
fn missing_credentials_lose_the_batches_and_say_so() {
    let dir = scratch("no-credentials");
    let certs = Certs::generate(&dir);
    let receiver = tls_receiver(&certs, &dir, "server", &[]);
    let endpoint = format!("https://127.0.0.1:{}", receiver.port());
    let env: Vec<_> = signed_env(&endpoint, &certs.file("ca.pem"))
        .into_iter()
        .filter(|(k, _)| !k.starts_with("AWS_") || *k == "AWS_REGION")
        .collect();
    let mut env = borrow(&env);
    env.extend([("EXIT_CODE", "5"), ("OTEL_BSP_EXPORT_TIMEOUT", "3000")]);
    let run = run(app(), &[], &env);
    assert_eq!(run.status.code(), Some(5), "{run}");
    assert!(run.stderr.contains("no AWS credentials"), "{run}");
    assert!(run.stderr.contains("20 lost"), "{run}");
    assert!(receiver.records().is_empty(), "nothing unsigned was sent");
}

#[test]
fn expired_container_credentials_are_refused_naming_their_source() {
    let dir = scratch("expired");
    let certs = Certs::generate(&dir);
    let receiver = tls_receiver(&certs, &dir, "server", &[]);
    let metadata = Peer::start("metadata.py", &dir, &["--container-auth", "Bearer-token"]);
    metadata.control(
        "/_control/credentials",
        &format!(
            r#"{{"AccessKeyId": "{ACCESS_KEY}", "SecretAccessKey": "{SECRET_KEY}", "Token": "{SESSION_TOKEN}"}}"#
        ),
        None,
    );
    metadata.control(
        "/_control/mode",
        r#"{"area": "creds", "mode": "expired"}"#,
        None,
    );
    let endpoint = format!("https://127.0.0.1:{}", receiver.port());
    let creds = format!("http://127.0.0.1:{}/creds", metadata.port());
    let env: Vec<_> = signed_env(&endpoint, &certs.file("ca.pem"))
        .into_iter()
        .filter(|(k, _)| !k.starts_with("AWS_") || *k == "AWS_REGION")
        .collect();
    let mut env = borrow(&env);
    env.extend([
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", creds.as_str()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer-token"),
        ("OTEL_BSP_EXPORT_TIMEOUT", "3000"),
    ]);
    let run = run(app(), &[], &env);
    assert!(run.status.success(), "{run}");
    assert!(run.stderr.contains("expired"), "{run}");
    assert!(run.stderr.contains("20 lost"), "{run}");
    assert!(receiver.records().is_empty());
    assert!(
        !metadata.records().is_empty(),
        "the credentials came from the container endpoint"
    );
}

#[test]
fn fresh_container_credentials_sign_requests() {
    let dir = scratch("container");
    let certs = Certs::generate(&dir);
    let receiver = tls_receiver(&certs, &dir, "server", &[]);
    let metadata = Peer::start("metadata.py", &dir, &[]);
    metadata.control(
        "/_control/credentials",
        &format!(
            r#"{{"AccessKeyId": "{ACCESS_KEY}", "SecretAccessKey": "{SECRET_KEY}", "Token": "{SESSION_TOKEN}", "expires_in": 3600}}"#
        ),
        None,
    );
    let endpoint = format!("https://127.0.0.1:{}", receiver.port());
    let creds = format!("http://127.0.0.1:{}/creds", metadata.port());
    let env: Vec<_> = signed_env(&endpoint, &certs.file("ca.pem"))
        .into_iter()
        .filter(|(k, _)| !k.starts_with("AWS_") || *k == "AWS_REGION")
        .collect();
    let mut env = borrow(&env);
    env.push(("AWS_CONTAINER_CREDENTIALS_FULL_URI", creds.as_str()));
    let run = run(app(), &[], &env);
    assert!(run.status.success(), "{run}");
    let records = receiver.records();
    assert_signed_gzip_tls(&records, &run);
    assert_eq!(spans(&records).len(), 20, "{run}");
}

#[test]
fn an_endpoint_that_is_down_or_never_answers_does_not_hold_the_exit() {
    let dir = scratch("down");
    let certs = Certs::generate(&dir);
    // Down: a port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let endpoint = format!("https://127.0.0.1:{closed}");
    let env = signed_env(&endpoint, &certs.file("ca.pem"));
    let mut env = borrow(&env);
    env.extend([("EXIT_CODE", "6"), ("OTEL_BSP_EXPORT_TIMEOUT", "1500")]);
    let down = run(app(), &[], &env);
    assert_eq!(down.status.code(), Some(6), "{down}");
    assert!(down.elapsed.as_secs() < 5, "{down}");
    assert!(down.stderr.contains("20 lost"), "{down}");

    // Silent: accepts the request, never answers.
    let receiver = tls_receiver(&certs, &dir, "server", &[]);
    receiver.control(
        "/_control/mode",
        r#"{"mode": "hang"}"#,
        Some(&certs.file("ca.pem")),
    );
    let endpoint = format!("https://127.0.0.1:{}", receiver.port());
    let env = signed_env(&endpoint, &certs.file("ca.pem"));
    let mut env = borrow(&env);
    env.extend([("EXIT_CODE", "7"), ("OTEL_BSP_EXPORT_TIMEOUT", "1500")]);
    let silent = run(app(), &[], &env);
    assert_eq!(silent.status.code(), Some(7), "{silent}");
    assert!(silent.elapsed.as_secs() < 5, "{silent}");
    assert!(silent.stderr.contains("20 lost"), "{silent}");
}

#[test]
fn a_lambda_flushes_each_invocation_signed_before_the_handler_returns() {
    let dir = scratch("lambda");
    let certs = Certs::generate(&dir);
    let receiver = tls_receiver(&certs, &dir, "server", &[]);
    let endpoint = format!("https://127.0.0.1:{}", receiver.port());
    let env = signed_env(&endpoint, &certs.file("ca.pem"));
    let headers = [
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        "Root=1-5759e989-aaaaaaaaaaaaaaaaaaaaaaaa;Parent=1111111111111111;Sampled=1",
        "Root=1-5759e98a-bbbbbbbbbbbbbbbbbbbbbbbb;Parent=2222222222222222;Sampled=1",
    ];
    let mut env = borrow(&env);
    // The schedule delay is far away: only the per-invocation flush sends.
    env.push(("OTEL_BSP_SCHEDULE_DELAY", "600000"));
    let run = run(env!("CARGO_BIN_EXE_lambda_app"), &headers, &env);
    assert!(run.status.success(), "{run}");
    let records = receiver.records();
    assert_signed_gzip_tls(&records, &run);
    let ends: Vec<f64> = run
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("END "))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map(|nanos| nanos / 1e9)
        .collect();
    assert_eq!(ends.len(), 3, "{run}");
    for (k, header) in headers.iter().enumerate() {
        let trace = header[7..40].replace('-', "");
        let arrived = records.iter().find(|r| {
            r["spans"]
                .as_array()
                .is_some_and(|s| s.iter().any(|span| span["trace_id"] == trace.as_str()))
        });
        let arrived = arrived.unwrap_or_else(|| panic!("invocation {k} never arrived{run}"));
        let at = arrived["time"].as_f64().expect("a record time");
        assert!(at <= ends[k], "invocation {k} arrived after its END{run}");
        assert_eq!(arrived["spans"].as_array().map(Vec::len), Some(3));
    }
}
