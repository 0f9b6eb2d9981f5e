//! Resource detection: which detectors run (`OTEL_RESOURCE_DETECTORS`), and
//! where each looks, from the variables the AWS platforms and SDKs use.

use std::path::PathBuf;

use super::Config;
use super::env::{Env, report_bad_var};
use crate::resource::{
    BEANSTALK_FILE, Detectors, EC2_DEFAULT_ENDPOINT, EC2_IPV6_ENDPOINT, K8S_ACCOUNT_DIR,
    KubernetesEnv, LambdaEnv, Settings,
};

pub(crate) const OTEL_RESOURCE_DETECTORS: &str = "OTEL_RESOURCE_DETECTORS";
pub(crate) const ECS_CONTAINER_METADATA_URI_V4: &str = "ECS_CONTAINER_METADATA_URI_V4";
pub(crate) const AWS_EC2_METADATA_DISABLED: &str = "AWS_EC2_METADATA_DISABLED";
pub(crate) const AWS_EC2_METADATA_SERVICE_ENDPOINT: &str = "AWS_EC2_METADATA_SERVICE_ENDPOINT";
pub(crate) const AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE: &str =
    "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE";
pub(crate) const AWS_LAMBDA_FUNCTION_NAME: &str = "AWS_LAMBDA_FUNCTION_NAME";
pub(crate) const AWS_LAMBDA_FUNCTION_MEMORY_SIZE: &str = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE";
pub(crate) const KUBERNETES_SERVICE_HOST: &str = "KUBERNETES_SERVICE_HOST";
pub(crate) const KUBERNETES_SERVICE_PORT: &str = "KUBERNETES_SERVICE_PORT";
/// Where Elastic Beanstalk's `environment.conf` is read (tests, unusual hosts).
pub(crate) const XRAY_ELASTIC_BEANSTALK_CONFIG: &str = "XRAY_ELASTIC_BEANSTALK_CONFIG";
/// The Kubernetes service account's folder (tests, unusual hosts).
pub(crate) const XRAY_K8S_SERVICE_ACCOUNT_DIR: &str = "XRAY_K8S_SERVICE_ACCOUNT_DIR";

/// The names `OTEL_RESOURCE_DETECTORS` takes, for messages.
const NAMES: &str = "lambda, elastic_beanstalk, eks, ecs, ec2 (or aws_<name>), aws, all, env, none";

pub(crate) fn resolve(config: &Config, env: Env<'_>) -> Settings {
    let defaults = Settings::default();
    Settings {
        detectors: resolve_detectors(config, env),
        budget: defaults.budget,
        lambda: lambda(env),
        ecs_uri: env(ECS_CONTAINER_METADATA_URI_V4).map(|uri| uri.trim().to_string()),
        kubernetes: kubernetes(env),
        ec2_endpoint: ec2_endpoint(env),
        ec2_endpoint_named: env(AWS_EC2_METADATA_SERVICE_ENDPOINT).is_some(),
        beanstalk_file: env(XRAY_ELASTIC_BEANSTALK_CONFIG)
            .map_or_else(|| PathBuf::from(BEANSTALK_FILE), PathBuf::from),
    }
}

/// `OTEL_RESOURCE_DETECTORS`, else the code's list, else every detector. A
/// list with names not known keeps the ones known, and says so once.
fn resolve_detectors(config: &Config, env: Env<'_>) -> Detectors {
    let from_code = || match config.resource_detectors.as_deref() {
        None => Detectors::ALL,
        Some(list) => {
            let (set, unknown) = Detectors::parse(list);
            if !unknown.is_empty() {
                eprintln!(
                    "xray: resource detectors {unknown:?} are not known (expected {NAMES}); using {set:?}"
                );
            }
            set
        }
    };
    match env(OTEL_RESOURCE_DETECTORS) {
        None => from_code(),
        Some(value) => {
            let (set, unknown) = Detectors::parse(&value);
            if !unknown.is_empty() {
                report_bad_var(
                    OTEL_RESOURCE_DETECTORS,
                    &value,
                    &format!("{unknown:?} not known; expected {NAMES}"),
                    &format!("{set:?}"),
                );
            }
            set
        }
    }
}

fn lambda(env: Env<'_>) -> Option<LambdaEnv> {
    let function_name = env(AWS_LAMBDA_FUNCTION_NAME)?.trim().to_string();
    let memory_mb = env(AWS_LAMBDA_FUNCTION_MEMORY_SIZE).and_then(|value| {
        value.trim().parse::<u64>().ok().or_else(|| {
            report_bad_var(
                AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
                &value,
                "expected megabytes",
                "no faas.max_memory",
            );
            None
        })
    });
    let text = |name: &str| env(name).map(|v| v.trim().to_string());
    Some(LambdaEnv {
        function_name,
        function_version: text("AWS_LAMBDA_FUNCTION_VERSION"),
        region: text("AWS_REGION").or_else(|| text("AWS_DEFAULT_REGION")),
        memory_mb,
        log_group: text("AWS_LAMBDA_LOG_GROUP_NAME"),
        log_stream: text("AWS_LAMBDA_LOG_STREAM_NAME"),
    })
}

fn kubernetes(env: Env<'_>) -> Option<KubernetesEnv> {
    let host = env(KUBERNETES_SERVICE_HOST)?.trim().to_string();
    let port = env(KUBERNETES_SERVICE_PORT).unwrap_or_else(|| "443".to_string());
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host
    };
    Some(KubernetesEnv {
        api: format!("https://{host}:{}", port.trim()),
        account_dir: env(XRAY_K8S_SERVICE_ACCOUNT_DIR)
            .map_or_else(|| PathBuf::from(K8S_ACCOUNT_DIR), PathBuf::from),
        pod_name: env("HOSTNAME").map(|name| name.trim().to_string()),
    })
}

/// Where EC2's instance metadata is, as the AWS SDKs find it; `None` when
/// `AWS_EC2_METADATA_DISABLED=true`.
fn ec2_endpoint(env: Env<'_>) -> Option<String> {
    if let Some(value) = env(AWS_EC2_METADATA_DISABLED) {
        match value.trim().to_ascii_lowercase().as_str() {
            "true" => return None,
            "false" => {}
            _ => report_bad_var(
                AWS_EC2_METADATA_DISABLED,
                &value,
                "expected true or false",
                "false",
            ),
        }
    }
    if let Some(endpoint) = env(AWS_EC2_METADATA_SERVICE_ENDPOINT) {
        let endpoint = endpoint.trim().to_string();
        if endpoint.starts_with("http://") || endpoint.starts_with("https://") {
            return Some(endpoint);
        }
        report_bad_var(
            AWS_EC2_METADATA_SERVICE_ENDPOINT,
            &endpoint,
            "expected an http:// URL",
            EC2_DEFAULT_ENDPOINT,
        );
    }
    match env(AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE) {
        Some(mode) if mode.trim().eq_ignore_ascii_case("ipv6") => {
            Some(EC2_IPV6_ENDPOINT.to_string())
        }
        Some(mode) if !mode.trim().eq_ignore_ascii_case("ipv4") => {
            report_bad_var(
                AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE,
                &mode,
                "expected IPv4 or IPv6",
                "IPv4",
            );
            Some(EC2_DEFAULT_ENDPOINT.to_string())
        }
        _ => Some(EC2_DEFAULT_ENDPOINT.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::env::fixed;
    use super::*;

    fn settings(config: Config, vars: &[(&str, &str)]) -> Settings {
        resolve(&config, &fixed(vars))
    }

    #[test]
    fn detectors_environment_beats_code_beats_all() {
        assert_eq!(settings(Config::new(), &[]).detectors, Detectors::ALL);
        let code = || Config::new().resource_detectors("ecs");
        assert_eq!(format!("{:?}", settings(code(), &[]).detectors), "ecs");
        let s = settings(code(), &[(OTEL_RESOURCE_DETECTORS, "none")]);
        assert_eq!(s.detectors, Detectors::NONE);
        let s = settings(code(), &[(OTEL_RESOURCE_DETECTORS, "ec2,gcp")]);
        assert_eq!(format!("{:?}", s.detectors), "ec2");
    }

    #[test]
    fn where_detectors_look() {
        let s = settings(Config::new(), &[]);
        assert_eq!(s.ec2_endpoint.as_deref(), Some(EC2_DEFAULT_ENDPOINT));
        assert!(!s.ec2_endpoint_named);
        assert_eq!(s.lambda, None);
        assert_eq!(s.beanstalk_file, PathBuf::from(BEANSTALK_FILE));

        let s = settings(
            Config::new(),
            &[
                (AWS_EC2_METADATA_SERVICE_ENDPOINT, "http://127.0.0.1:9"),
                (KUBERNETES_SERVICE_HOST, "fd00::1"),
                (AWS_LAMBDA_FUNCTION_NAME, "orders"),
                (AWS_LAMBDA_FUNCTION_MEMORY_SIZE, "lots"),
                ("AWS_REGION", "eu-west-1"),
            ],
        );
        assert_eq!(s.ec2_endpoint.as_deref(), Some("http://127.0.0.1:9"));
        assert!(s.ec2_endpoint_named);
        assert_eq!(s.kubernetes.unwrap().api, "https://[fd00::1]:443");
        let lambda = s.lambda.unwrap();
        assert_eq!(lambda.memory_mb, None);
        assert_eq!(lambda.region.as_deref(), Some("eu-west-1"));

        let s = settings(Config::new(), &[(AWS_EC2_METADATA_DISABLED, "TRUE")]);
        assert_eq!(s.ec2_endpoint, None);
        let s = settings(
            Config::new(),
            &[(AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE, "IPv6")],
        );
        assert_eq!(s.ec2_endpoint.as_deref(), Some(EC2_IPV6_ENDPOINT));
    }
}
