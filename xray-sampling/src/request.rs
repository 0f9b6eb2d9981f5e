//! What a sampling decision looks at.

/// The properties of a new trace's root that sampling rules match against.
///
/// Every field borrows; an empty string means "not known". How an unknown
/// field matches depends on the field (see [`crate::RuleSet`]): for the
/// fields the AWS X-Ray SDK for Python matches (`service_name`,
/// `service_type`, `host`, `http_method`, `url_path`) an unknown value matches
/// every rule, as in that SDK; an unknown `resource_arn` only matches rules
/// whose `ResourceARN` is `*`, and a rule's attributes must all be present.
/// A root that is not an HTTP request at all (`http_request: false`: a job,
/// a message consumed) matches no rule that names a host, method or path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SamplingRequest<'a> {
    /// The name the service reports in its segments.
    pub service_name: &'a str,
    /// X-Ray's origin of the service, e.g. `AWS::EC2::Instance`,
    /// `AWS::ECS::Container`, `AWS::EKS::Container`, `AWS::Lambda::Function`,
    /// `AWS::ElasticBeanstalk::Environment`.
    pub service_type: &'a str,
    /// The host name of the request URL.
    pub host: &'a str,
    /// The HTTP method (`GET`, ...).
    pub http_method: &'a str,
    /// The path of the request URL.
    pub url_path: &'a str,
    /// The ARN of the AWS resource the service runs on.
    pub resource_arn: &'a str,
    /// Attributes of the request, matched by rules' `Attributes`.
    pub attributes: &'a [(&'a str, &'a str)],
    /// Whether the root is an HTTP request (whose unknown host, method or
    /// path match any rule, as in the Python SDK), rather than work of
    /// another kind (which rules naming a host, method or path do not
    /// match).
    pub http_request: bool,
}

impl Default for SamplingRequest<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> SamplingRequest<'a> {
    /// A request with every field unknown.
    pub const fn new() -> Self {
        SamplingRequest {
            service_name: "",
            service_type: "",
            host: "",
            http_method: "",
            url_path: "",
            resource_arn: "",
            attributes: &[],
            http_request: true,
        }
    }
}

/// The X-Ray origin (`ServiceType`) for an OpenTelemetry `cloud.platform`
/// value, as the X-Ray remote samplers map them; `None` for other platforms.
pub fn service_type_for_cloud_platform(cloud_platform: &str) -> Option<&'static str> {
    Some(match cloud_platform {
        "aws_ec2" => "AWS::EC2::Instance",
        "aws_ecs" => "AWS::ECS::Container",
        "aws_eks" => "AWS::EKS::Container",
        "aws_lambda" => "AWS::Lambda::Function",
        "aws_elastic_beanstalk" => "AWS::ElasticBeanstalk::Environment",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_platforms() {
        assert_eq!(
            service_type_for_cloud_platform("aws_eks"),
            Some("AWS::EKS::Container")
        );
        assert_eq!(
            service_type_for_cloud_platform("aws_lambda"),
            Some("AWS::Lambda::Function")
        );
        assert_eq!(service_type_for_cloud_platform("gcp_compute_engine"), None);
        assert_eq!(SamplingRequest::new(), SamplingRequest::default());
    }
}
