//! Amazon EKS: a Kubernetes pod whose cluster has EKS's `aws-auth`
//! ConfigMap; the cluster's name from the CloudWatch agent's `cluster-info`
//! ConfigMap, both read through the Kubernetes API with the pod's service
//! account.

use std::time::Instant;

use opentelemetry::KeyValue;

use super::http::{Tls, request};
use super::json;
use super::{CLOUD_PLATFORM, CLOUD_PROVIDER, KubernetesEnv};

const AWS_AUTH: &str = "/api/v1/namespaces/kube-system/configmaps/aws-auth";
const CLUSTER_INFO: &str = "/api/v1/namespaces/amazon-cloudwatch/configmaps/cluster-info";

/// Nothing for a pod of another Kubernetes (no `aws-auth` to read).
pub(super) fn detect(env: &KubernetesEnv, deadline: Instant) -> Result<Vec<KeyValue>, String> {
    let token_file = env.account_dir.join("token");
    let token = match std::fs::read_to_string(&token_file) {
        Ok(token) => token,
        // A pod without a service account token cannot ask; nothing to say.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", token_file.display())),
    };
    let tls = Tls::trusting(&env.account_dir.join("ca.crt"))?;
    let authorization = format!("Bearer {}", token.trim());
    let headers = [("Authorization", authorization.as_str())];
    let api = env.api.trim_end_matches('/');
    let aws_auth = request(
        "GET",
        &format!("{api}{AWS_AUTH}"),
        &headers,
        Some(&tls),
        deadline,
    )?;
    if aws_auth.status != 200 {
        return Ok(Vec::new());
    }
    let mut attributes = vec![
        KeyValue::new(CLOUD_PROVIDER, "aws"),
        KeyValue::new(CLOUD_PLATFORM, "aws_eks"),
    ];
    let cluster = request(
        "GET",
        &format!("{api}{CLUSTER_INFO}"),
        &headers,
        Some(&tls),
        deadline,
    )
    .ok()
    .filter(|answer| answer.status == 200)
    .and_then(|answer| json::parse(&answer.body))
    .and_then(|map| json::string(&map, &["data", "cluster.name"]).map(str::to_string));
    if let Some(cluster) = cluster {
        attributes.push(KeyValue::new("k8s.cluster.name", cluster));
    }
    if let Ok(namespace) = std::fs::read_to_string(env.account_dir.join("namespace"))
        && !namespace.trim().is_empty()
    {
        attributes.push(KeyValue::new(
            "k8s.namespace.name",
            namespace.trim().to_string(),
        ));
    }
    // A pod's host name is its name.
    let pod = env.pod_name.clone().or_else(|| {
        std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|name| name.trim().to_string())
            .filter(|name| !name.is_empty())
    });
    if let Some(pod) = pod {
        attributes.push(KeyValue::new("k8s.pod.name", pod));
    }
    if let Some(id) = container_id() {
        attributes.push(KeyValue::new("container.id", id));
    }
    Ok(attributes)
}

/// This process's container id, from its cgroups (v1 paths, or v2 mounts).
fn container_id() -> Option<String> {
    let from = |path: &str| {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|text| find_id(&text))
    };
    from("/proc/self/cgroup").or_else(|| from("/proc/self/mountinfo"))
}

/// The first 64-hex-digit path segment (`docker-<id>.scope`, `cri-containerd-<id>.scope`,
/// `/kubepods/.../<id>`, `/var/lib/containerd/.../<id>/...`).
fn find_id(text: &str) -> Option<String> {
    text.lines()
        .flat_map(|line| line.split(['/', ' ', ':']))
        .map(|segment| {
            let segment = segment.trim_end_matches(".scope");
            segment.rsplit('-').next().unwrap_or(segment)
        })
        .find(|segment| segment.len() == 64 && segment.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_ids_from_cgroups() {
        let id = "a".repeat(60) + "0b1c";
        let v1 = format!("12:pids:/kubepods/burstable/pod1234/{id}\n");
        assert_eq!(find_id(&v1), Some(id.clone()));
        let systemd = format!("0::/system.slice/cri-containerd-{id}.scope\n");
        assert_eq!(find_id(&systemd), Some(id.clone()));
        let mount = format!(
            "612 600 0:50 /var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/{id}/hostname /etc/hostname rw\n"
        );
        assert_eq!(find_id(&mount), Some(id));
        assert_eq!(find_id("0::/\n"), None);
    }
}
