//! Where this service runs, as X-Ray names it: a segment's `origin`, which
//! sampling rules match as `ServiceType`. Set at start from `cloud.platform`
//! (given in `OTEL_RESOURCE_ATTRIBUTES` or found by resource detection), read
//! by the sampler when a trace starts.

use std::sync::atomic::{AtomicU8, Ordering};

/// X-Ray's origins, indexed by the value stored in [`ORIGIN`] minus one.
const ORIGINS: [(&str, &str); 5] = [
    ("aws_ec2", "AWS::EC2::Instance"),
    ("aws_ecs", "AWS::ECS::Container"),
    ("aws_eks", "AWS::EKS::Container"),
    ("aws_lambda", "AWS::Lambda::Function"),
    (
        "aws_elastic_beanstalk",
        "AWS::ElasticBeanstalk::Environment",
    ),
];

/// 0: not known; `i + 1`: `ORIGINS[i]`.
static ORIGIN: AtomicU8 = AtomicU8::new(0);

/// Records where this service runs, from its `cloud.platform` (`None`, or
/// a platform without an origin, forgets it).
pub(crate) fn set_cloud_platform(cloud_platform: Option<&str>) {
    let index = cloud_platform
        .and_then(|platform| ORIGINS.iter().position(|(p, _)| *p == platform))
        .map_or(0, |i| i as u8 + 1);
    ORIGIN.store(index, Ordering::Relaxed);
}

/// This service's X-Ray origin (`AWS::ECS::Container`, ...), when known.
#[inline]
#[cfg_attr(not(feature = "xray-sampler"), allow(dead_code))] // the X-Ray sampler reads it
pub(crate) fn get() -> Option<&'static str> {
    match ORIGIN.load(Ordering::Relaxed) {
        0 => None,
        i => ORIGINS.get(usize::from(i) - 1).map(|(_, origin)| *origin),
    }
}

/// Tests that set the origin take turns.
#[cfg(test)]
pub(crate) static TEST_TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_map_to_origins() {
        let _turn = TEST_TURN.lock().unwrap_or_else(|e| e.into_inner());
        set_cloud_platform(Some("aws_lambda"));
        assert_eq!(get(), Some("AWS::Lambda::Function"));
        set_cloud_platform(Some("azure_vm"));
        assert_eq!(get(), None);
        set_cloud_platform(None);
        assert_eq!(get(), None);
    }
}
