//! Amazon EC2: the instance metadata service, IMDSv2 (a session token
//! first, then the instance identity document and the host name).

use std::time::Instant;

use opentelemetry::KeyValue;

use super::http::request;
use super::json;
use super::{CLOUD_PLATFORM, CLOUD_PROVIDER};

const TOKEN_PATH: &str = "/latest/api/token";
const IDENTITY_PATH: &str = "/latest/dynamic/instance-identity/document";
const HOSTNAME_PATH: &str = "/latest/meta-data/hostname";
const TOKEN_TTL_HEADER: &str = "X-aws-ec2-metadata-token-ttl-seconds";
const TOKEN_HEADER: &str = "X-aws-ec2-metadata-token";

/// Whether this host says it is an EC2 instance, without asking the
/// network: the firmware's vendor (Nitro instances), the hypervisor's id
/// (Xen instances) or the asset tag holding the instance id. On other hosts
/// the metadata address is not asked, unless it was named.
pub(super) fn host_looks_like_ec2() -> bool {
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .map(|text| text.trim().to_ascii_lowercase())
            .unwrap_or_default()
    };
    read("/sys/devices/virtual/dmi/id/sys_vendor") == "amazon ec2"
        || read("/sys/devices/virtual/dmi/id/board_asset_tag").starts_with("i-")
        || read("/sys/hypervisor/uuid").starts_with("ec2")
}

pub(super) fn detect(endpoint: &str, deadline: Instant) -> Result<Vec<KeyValue>, String> {
    let base = endpoint.trim_end_matches('/');
    let token = request(
        "PUT",
        &format!("{base}{TOKEN_PATH}"),
        &[(TOKEN_TTL_HEADER, "60")],
        None,
        deadline,
    )?
    .ok()?;
    let token = String::from_utf8(token)
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or("the session token is not text")?;
    let headers = [(TOKEN_HEADER, token.as_str())];
    let identity = request(
        "GET",
        &format!("{base}{IDENTITY_PATH}"),
        &headers,
        None,
        deadline,
    )?
    .ok()?;
    let identity = json::parse(&identity).ok_or("the instance identity document is not JSON")?;
    let mut attributes = vec![
        KeyValue::new(CLOUD_PROVIDER, "aws"),
        KeyValue::new(CLOUD_PLATFORM, "aws_ec2"),
    ];
    for (key, field) in [
        ("cloud.account.id", "accountId"),
        ("cloud.region", "region"),
        ("cloud.availability_zone", "availabilityZone"),
        ("host.id", "instanceId"),
        ("host.type", "instanceType"),
        ("host.image.id", "imageId"),
    ] {
        if let Some(value) = json::string(&identity, &[field]) {
            attributes.push(KeyValue::new(key, value.to_string()));
        }
    }
    if let Some(arch) = json::string(&identity, &["architecture"]) {
        let arch = match arch {
            "x86_64" => "amd64",
            "i386" => "x86",
            other => other,
        };
        attributes.push(KeyValue::new("host.arch", arch.to_string()));
    }
    let hostname = request(
        "GET",
        &format!("{base}{HOSTNAME_PATH}"),
        &headers,
        None,
        deadline,
    )
    .ok()
    .and_then(|answer| answer.ok().ok())
    .and_then(|body| String::from_utf8(body).ok())
    .map(|name| name.trim().to_string())
    .filter(|name| !name.is_empty() && name.len() <= 255);
    if let Some(hostname) = hostname {
        attributes.push(KeyValue::new("host.name", hostname));
    }
    Ok(attributes)
}
