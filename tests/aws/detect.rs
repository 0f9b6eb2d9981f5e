//! Resource detection in real processes: a traced program exports to a
//! local OTLP receiver, which records the resource its spans came with,
//! while the metadata peer plays EC2's instance metadata (IMDSv2 with its
//! tokens), ECS's task metadata v4 and the EKS Kubernetes API, well or
//! badly (hanging, answering garbage).

use std::path::PathBuf;
use std::time::Duration;

use xray_aws_tests::{Peer, Value, run, scratch, spans};
use xray_secure_tests::{Certs, Run};

const ECS_PREFIX: &str = "/v4/5f3a0c1e9b7d4a2e8c6b0a9f1e2d3c4b-0123456789";

fn app() -> &'static str {
    env!("CARGO_BIN_EXE_detect_app")
}

/// A receiver and a metadata peer, and the environment that points the
/// program at the receiver and keeps it off this host's own platform.
struct Setup {
    dir: PathBuf,
    receiver: Peer,
    metadata: Peer,
    env: Vec<(&'static str, String)>,
}

impl Setup {
    fn start(name: &str, metadata_args: &[&str]) -> Self {
        let dir = scratch(name);
        let receiver = Peer::start("otlp_receiver.py", &dir, &[]);
        let metadata = Peer::start("metadata.py", &dir, metadata_args);
        let empty = dir.join("no-service-account");
        std::fs::create_dir_all(&empty).expect("a folder");
        let env = vec![
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                format!("http://127.0.0.1:{}", receiver.port()),
            ),
            (
                "XRAY_K8S_SERVICE_ACCOUNT_DIR",
                empty.to_string_lossy().into_owned(),
            ),
            (
                "XRAY_ELASTIC_BEANSTALK_CONFIG",
                dir.join("no-environment.conf")
                    .to_string_lossy()
                    .into_owned(),
            ),
        ];
        Self {
            dir,
            receiver,
            metadata,
            env,
        }
    }

    fn ecs_uri(&self) -> String {
        format!("http://127.0.0.1:{}{ECS_PREFIX}", self.metadata.port())
    }

    fn imds(&self) -> String {
        format!("http://127.0.0.1:{}", self.metadata.port())
    }

    /// Runs the program with `extra` on top of the setup's environment
    /// (later entries win); returns the run and the resource its spans had.
    fn run(&self, extra: &[(&'static str, String)]) -> (Run, Value) {
        let before = self.receiver.records().len();
        let mut env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        env.extend(extra.iter().map(|(k, v)| (*k, v.as_str())));
        let run = run(app(), &[], &env);
        assert!(run.status.success(), "{run}");
        let records = self.receiver.records();
        let records = &records[before..];
        assert_eq!(spans(records).len(), 1, "the program's span arrived{run}");
        (run, records[0]["resource_attributes"].clone())
    }
}

fn list(values: &[&str]) -> Value {
    Value::Array(values.iter().map(|v| Value::from(*v)).collect())
}

#[test]
fn ecs_task_metadata_names_the_task_its_cluster_and_its_log_group() {
    let setup = Setup::start("ecs", &[]);
    let ecs = [("ECS_CONTAINER_METADATA_URI_V4", setup.ecs_uri())];
    let (run, resource) = setup.run(&ecs);
    let task_arn = "arn:aws:ecs:us-west-2:123456789012:task/xray-test-cluster/5f3a0c1e9b7d4a2e8c6b0a9f1e2d3c4b";
    assert_eq!(resource["service.name"], "detect-app", "{resource}");
    assert_eq!(resource["cloud.provider"], "aws", "{resource}");
    assert_eq!(resource["cloud.platform"], "aws_ecs");
    assert_eq!(resource["cloud.account.id"], "123456789012");
    assert_eq!(resource["cloud.region"], "us-west-2");
    assert_eq!(resource["cloud.availability_zone"], "us-west-2b");
    assert_eq!(resource["aws.ecs.task.arn"], task_arn);
    assert_eq!(
        resource["aws.ecs.task.id"],
        "5f3a0c1e9b7d4a2e8c6b0a9f1e2d3c4b"
    );
    assert_eq!(resource["aws.ecs.task.family"], "xray-test-task");
    assert_eq!(resource["aws.ecs.task.revision"], "3");
    assert_eq!(resource["aws.ecs.launchtype"], "fargate");
    assert_eq!(
        resource["aws.ecs.cluster.arn"],
        "arn:aws:ecs:us-west-2:123456789012:cluster/xray-test-cluster"
    );
    assert!(
        resource["aws.ecs.container.arn"]
            .as_str()
            .is_some_and(|a| a.starts_with("arn:aws:ecs:"))
    );
    assert_eq!(resource["container.name"], "app");
    assert!(
        resource["container.id"]
            .as_str()
            .is_some_and(|id| id.starts_with("5f3a0c1e"))
    );
    assert_eq!(
        resource["aws.log.group.names"],
        list(&["/ecs/xray-test-task"])
    );
    assert_eq!(
        resource["aws.log.group.arns"],
        list(&["arn:aws:logs:us-west-2:123456789012:log-group:/ecs/xray-test-task"])
    );
    assert_eq!(
        resource["aws.log.stream.names"],
        list(&["ecs/app/5f3a0c1e9b7d4a2e8c6b0a9f1e2d3c4b"])
    );
    assert!(run.stderr.is_empty(), "{run}");
    // The container, then its task: nothing else was asked.
    let paths: Vec<_> = setup
        .metadata
        .records()
        .iter()
        .map(|r| r["path"].clone())
        .collect();
    assert_eq!(
        paths,
        [
            Value::from(ECS_PREFIX),
            Value::from(format!("{ECS_PREFIX}/task"))
        ]
    );

    // On the EC2 launch type the task names its cluster by its short name.
    setup.metadata.control(
        "/_control/ecs",
        r#"{"launch_type": "EC2", "cluster": "shop"}"#,
        None,
    );
    let (_, resource) = setup.run(&ecs);
    assert_eq!(resource["aws.ecs.launchtype"], "ec2");
    assert_eq!(
        resource["aws.ecs.cluster.arn"],
        "arn:aws:ecs:us-west-2:123456789012:cluster/shop"
    );
    assert_eq!(resource["container.id"].as_str().map(str::len), Some(64));
}

#[test]
fn ec2_instance_metadata_is_read_with_an_imdsv2_token_unless_disabled() {
    let setup = Setup::start("ec2", &[]);
    let ec2 = [
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", setup.imds()),
        ("AWS_EC2_METADATA_DISABLED", "false".to_string()),
    ];
    let (run, resource) = setup.run(&ec2);
    assert_eq!(resource["cloud.platform"], "aws_ec2", "{resource}{run}");
    assert_eq!(resource["cloud.provider"], "aws");
    assert_eq!(resource["cloud.account.id"], "123456789012");
    assert_eq!(resource["cloud.region"], "us-west-2");
    assert_eq!(resource["cloud.availability_zone"], "us-west-2b");
    assert_eq!(resource["host.id"], "i-0123456789abcdef0");
    assert_eq!(resource["host.type"], "t3.micro");
    assert_eq!(resource["host.image.id"], "ami-0abcdef1234567890");
    assert_eq!(resource["host.arch"], "amd64");
    assert_eq!(
        resource["host.name"],
        "ip-172-31-20-10.us-west-2.compute.internal"
    );
    // A session token first, then every read with it.
    let records = setup.metadata.records();
    assert_eq!(records[0]["method"], "PUT");
    assert_eq!(records[0]["path"], "/latest/api/token");
    assert_eq!(
        records[0]["headers"]["x-aws-ec2-metadata-token-ttl-seconds"],
        "60"
    );
    assert!(records.len() >= 3, "{records:?}");
    for read in &records[1..] {
        assert_eq!(read["method"], "GET");
        assert_eq!(read["status"], 200, "{read}");
        assert!(
            read["headers"]["x-aws-ec2-metadata-token"]
                .as_str()
                .is_some_and(|t| !t.is_empty())
        );
    }

    // AWS_EC2_METADATA_DISABLED=true: the endpoint is not even asked.
    let asked = records.len();
    let (_, resource) = setup.run(&[
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", setup.imds()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
    ]);
    assert_eq!(resource.get("cloud.platform"), None, "{resource}");
    assert_eq!(setup.metadata.records().len(), asked);
}

#[test]
fn an_eks_pod_is_told_by_the_kubernetes_api_with_its_service_account() {
    let dir = scratch("eks-certs");
    let certs = Certs::generate(&dir);
    let (cert, key) = (certs.file("server.pem"), certs.file("server-key.pem"));
    let setup = Setup::start(
        "eks",
        &[
            "--k8s-port",
            "0",
            "--k8s-tls-cert",
            &cert,
            "--k8s-tls-key",
            &key,
            "--k8s-token",
            "pod-token",
        ],
    );
    let account = setup.dir.join("serviceaccount");
    std::fs::create_dir_all(&account).expect("a folder");
    std::fs::write(account.join("token"), "pod-token\n").expect("token");
    std::fs::copy(certs.file("ca.pem"), account.join("ca.crt")).expect("ca.crt");
    std::fs::write(account.join("namespace"), "shop").expect("namespace");
    let eks = [
        ("KUBERNETES_SERVICE_HOST", "127.0.0.1".to_string()),
        (
            "KUBERNETES_SERVICE_PORT",
            setup.metadata.ports[1].to_string(),
        ),
        (
            "XRAY_K8S_SERVICE_ACCOUNT_DIR",
            account.to_string_lossy().into_owned(),
        ),
        ("HOSTNAME", "orders-7d9c5".to_string()),
    ];
    let (run, resource) = setup.run(&eks);
    assert_eq!(resource["cloud.platform"], "aws_eks", "{resource}{run}");
    assert_eq!(resource["k8s.cluster.name"], "xray-test-eks");
    assert_eq!(resource["k8s.namespace.name"], "shop");
    assert_eq!(resource["k8s.pod.name"], "orders-7d9c5");
    let k8s: Vec<_> = setup
        .metadata
        .records()
        .into_iter()
        .filter(|r| r["listener"] == "k8s")
        .collect();
    assert_eq!(k8s.len(), 2, "{k8s:?}");
    assert!(k8s.iter().all(|r| r["status"] == 200
        && r["tls"] == true
        && r["headers"]["authorization"] == "Bearer pod-token"));

    // A Kubernetes cluster that is not EKS adds nothing.
    setup
        .metadata
        .control("/_control/k8s", r#"{"eks": false}"#, None);
    let (run, resource) = setup.run(&eks);
    assert_eq!(resource.get("cloud.platform"), None, "{resource}");
    assert!(run.stderr.is_empty(), "{run}");
}

#[test]
fn lambda_and_elastic_beanstalk_are_read_from_their_environment_and_file() {
    let setup = Setup::start("lambda-beanstalk", &[]);
    let (_, resource) = setup.run(&[
        ("AWS_LAMBDA_FUNCTION_NAME", "resize".to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_string()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".to_string()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            "/aws/lambda/resize".to_string(),
        ),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/01/02/[$LATEST]0a1b".to_string(),
        ),
        ("AWS_REGION", "eu-west-1".to_string()),
    ]);
    assert_eq!(resource["cloud.platform"], "aws_lambda", "{resource}");
    assert_eq!(resource["faas.name"], "resize");
    assert_eq!(resource["faas.version"], "$LATEST");
    assert_eq!(resource["faas.max_memory"], 256 * 1024 * 1024);
    assert_eq!(resource["faas.instance"], "2026/01/02/[$LATEST]0a1b");
    assert_eq!(resource["cloud.region"], "eu-west-1");
    assert_eq!(
        resource["aws.log.group.names"],
        list(&["/aws/lambda/resize"])
    );

    let file = setup.dir.join("environment.conf");
    std::fs::write(
        &file,
        r#"{"deployment_id": 23, "version_label": "shop-1.4.2", "environment_name": "shop-prod"}"#,
    )
    .expect("environment.conf");
    let (_, resource) = setup.run(&[(
        "XRAY_ELASTIC_BEANSTALK_CONFIG",
        file.to_string_lossy().into_owned(),
    )]);
    assert_eq!(
        resource["cloud.platform"], "aws_elastic_beanstalk",
        "{resource}"
    );
    assert_eq!(resource["service.namespace"], "shop-prod");
    assert_eq!(resource["service.instance.id"], "23");
    assert_eq!(resource["service.version"], "shop-1.4.2");
    assert_eq!(resource["service.name"], "detect-app");
}

fn micros(run: &Run, key: &str) -> Duration {
    Duration::from_micros(run.number(key))
}

#[test]
fn a_hanging_or_garbage_endpoint_costs_the_first_export_at_most_the_budget() {
    let setup = Setup::start("hostile", &[]);
    let ecs = ("ECS_CONTAINER_METADATA_URI_V4", setup.ecs_uri());

    setup
        .metadata
        .control("/_control/mode", r#"{"area": "ecs", "mode": "hang"}"#, None);
    let (run, resource) = setup.run(std::slice::from_ref(&ecs));
    // The program's own thread never waits: not in init, not for its span.
    assert!(
        micros(&run, "init_us") < Duration::from_millis(200),
        "{run}"
    );
    assert!(
        micros(&run, "first_span_us") < Duration::from_millis(20),
        "{run}"
    );
    // The export waited for the budget (1 s), then went without ECS.
    assert!(run.elapsed >= Duration::from_millis(1000), "{run}");
    assert!(run.elapsed < Duration::from_secs(4), "{run}");
    assert_eq!(resource.get("cloud.platform"), None, "{resource}");
    assert!(
        run.stderr
            .contains("xray: resource detection: ecs left out (no answer within 1000 ms)"),
        "{run}"
    );
    setup
        .metadata
        .control("/_control/mode", r#"{"area": "ecs", "mode": "ok"}"#, None);

    setup.metadata.control(
        "/_control/mode",
        r#"{"area": "ecs", "mode": "garbage"}"#,
        None,
    );
    let (run, resource) = setup.run(std::slice::from_ref(&ecs));
    assert_eq!(resource.get("cloud.platform"), None, "{resource}");
    assert!(
        run.stderr.contains("resource detection: ecs left out ("),
        "{run}"
    );
    assert!(run.stderr.contains("something else than JSON"), "{run}");
    assert!(run.elapsed < Duration::from_secs(2), "{run}");

    // IMDS answering garbage, and then down: the same.
    let ec2 = [
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", setup.imds()),
        ("AWS_EC2_METADATA_DISABLED", "false".to_string()),
    ];
    setup.metadata.control(
        "/_control/mode",
        r#"{"area": "imds", "mode": "garbage"}"#,
        None,
    );
    let (run, resource) = setup.run(&ec2);
    assert_eq!(resource.get("cloud.platform"), None, "{resource}");
    assert!(
        run.stderr.contains("resource detection: ec2 left out ("),
        "{run}"
    );
    setup.metadata.control(
        "/_control/mode",
        r#"{"area": "imds", "mode": "down"}"#,
        None,
    );
    let (run, resource) = setup.run(&ec2);
    assert_eq!(resource.get("cloud.platform"), None, "{resource}");
    assert!(
        run.stderr.contains("resource detection: ec2 left out ("),
        "{run}"
    );
    assert!(run.elapsed < Duration::from_secs(2), "{run}");
}

#[test]
fn the_environment_wins_over_detection_and_detectors_can_be_turned_off() {
    let setup = Setup::start("precedence", &[]);
    let ecs = ("ECS_CONTAINER_METADATA_URI_V4", setup.ecs_uri());
    let (_, resource) = setup.run(&[
        ecs.clone(),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "cloud.platform=aws_ec2,deployment.environment.name=test".to_string(),
        ),
    ]);
    assert_eq!(resource["cloud.platform"], "aws_ec2", "{resource}");
    assert_eq!(resource["deployment.environment.name"], "test");
    assert_eq!(
        resource["aws.ecs.task.family"], "xray-test-task",
        "the rest is detected"
    );

    // ECS on EC2: ECS names the platform, EC2 adds the instance.
    let imds = [
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", setup.imds()),
        ("AWS_EC2_METADATA_DISABLED", "false".to_string()),
    ];
    let (_, resource) = setup.run(&[ecs.clone(), imds[0].clone(), imds[1].clone()]);
    assert_eq!(resource["cloud.platform"], "aws_ecs", "{resource}");
    assert_eq!(resource["host.id"], "i-0123456789abcdef0", "{resource}");
    assert_eq!(resource["aws.ecs.task.family"], "xray-test-task");

    // Inside Lambda nothing else is asked.
    let asked = setup.metadata.records().len();
    let (_, resource) = setup.run(&[
        ecs.clone(),
        imds[0].clone(),
        imds[1].clone(),
        ("AWS_LAMBDA_FUNCTION_NAME", "resize".to_string()),
    ]);
    assert_eq!(resource["cloud.platform"], "aws_lambda", "{resource}");
    assert_eq!(resource.get("host.id"), None, "{resource}");
    assert_eq!(
        setup.metadata.records().len(),
        asked,
        "an endpoint was asked from Lambda"
    );

    for off in ["none", "ec2,lambda"] {
        let (_, resource) = setup.run(&[ecs.clone(), ("OTEL_RESOURCE_DETECTORS", off.to_string())]);
        assert_eq!(resource.get("cloud.platform"), None, "{off}: {resource}");
        assert_eq!(
            setup.metadata.records().len(),
            asked,
            "{off}: the endpoint was asked"
        );
    }
    // A list with a name not known keeps the ones known, and says so.
    let (run, resource) = setup.run(&[ecs, ("OTEL_RESOURCE_DETECTORS", "ecs,gcp".to_string())]);
    assert_eq!(resource["cloud.platform"], "aws_ecs", "{resource}");
    assert!(run.stderr.contains("OTEL_RESOURCE_DETECTORS"), "{run}");
}
