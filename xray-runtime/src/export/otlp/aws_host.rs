//! What an AWS endpoint's host name says: the service and the region a
//! request to it is signed for.

/// `(service, region)` of an AWS host name: `xray.us-east-1.amazonaws.com`,
/// `xray-fips.us-gov-west-1.amazonaws.com`, `logs.cn-north-1.amazonaws.com.cn`,
/// or a VPC endpoint such as
/// `vpce-0a1b-c2d3.xray.eu-west-1.vpce.amazonaws.com`.
pub(crate) fn service_and_region(host: &str) -> Option<(String, String)> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = host.split('.').collect();
    let at = labels.iter().rposition(|label| *label == "amazonaws")?;
    let (service, region) = match labels.get(..at)? {
        [.., service, region, "vpce"] => (*service, *region),
        [.., service, region] => (*service, *region),
        _ => return None,
    };
    let service = service.strip_suffix("-fips").unwrap_or(service);
    let is_name =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    (is_name(service) && is_region(region)).then(|| (service.to_string(), region.to_string()))
}

/// The OTLP/HTTP endpoint at `path` of the AWS service `service` (its
/// signing name, which is also its host's first label: `xray`, `logs`) in
/// `region`.
pub(crate) fn service_endpoint(service: &str, region: &str, path: &str) -> String {
    let domain = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://{service}.{region}.{domain}{path}")
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`, ...
pub(crate) fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()))
        && parts
            .last()
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
}

/// The host of an `http(s)://host[:port]/...` URL.
pub(crate) fn host_of(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if let Some(bracketed) = authority.strip_prefix('[') {
        return bracketed.split(']').next();
    }
    Some(authority.split(':').next().unwrap_or(authority))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    #[test]
    fn hosts() {
        let cases = [
            ("xray.us-east-1.amazonaws.com", Some(("xray", "us-east-1"))),
            ("XRAY.eu-west-3.amazonaws.com.", Some(("xray", "eu-west-3"))),
            ("xray-fips.us-gov-west-1.amazonaws.com", Some(("xray", "us-gov-west-1"))),
            ("logs.cn-north-1.amazonaws.com.cn", Some(("logs", "cn-north-1"))),
            ("vpce-0a1b-c2d3.xray.eu-west-1.vpce.amazonaws.com", Some(("xray", "eu-west-1"))),
            // Not a region: no number at the end.
            ("xray.global.amazonaws.com", None),
            ("collector.internal", None),
            ("amazonaws.com", None),
        ];
        for (host, expected) in cases {
            let expected = expected.map(|(s, r)| (s.to_string(), r.to_string()));
            assert_eq!(service_and_region(host), expected, "{host}");
        }
        assert_eq!(host_of("https://xray.us-east-1.amazonaws.com/v1/traces"), Some("xray.us-east-1.amazonaws.com"));
        assert_eq!(host_of("http://user@[::1]:4318/v1/traces"), Some("::1"));
        assert_eq!(host_of("localhost:4317"), None);
        assert_eq!(service_endpoint("logs", "eu-west-1", "/v1/logs"), "https://logs.eu-west-1.amazonaws.com/v1/logs");
    }
}
