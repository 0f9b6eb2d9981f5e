//! The sampling rule model, as X-Ray's API defines it.

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// Name of the rule X-Ray always has, with priority 10000 and every matching
/// field `*`. X-Ray reserves the name; the SDKs recognise the rule by it.
pub const DEFAULT_RULE_NAME: &str = "Default";

/// Priority X-Ray gives the `Default` rule (user rules have 1 to 9999).
pub const DEFAULT_RULE_PRIORITY: i32 = 10_000;

/// One sampling rule.
///
/// In JSON it has X-Ray's field names (`RuleName`, `Priority`, `FixedRate`,
/// `ReservoirSize`, `ServiceName`, `ServiceType`, `Host`, `HTTPMethod`,
/// `URLPath`, `ResourceARN`, `Attributes`, `Version`, `SamplingRateBoost`).
/// `RuleName`, `Priority`, `FixedRate`, `ReservoirSize`, `Host`,
/// `ServiceName`, `HTTPMethod` and `URLPath` are required, as the Python SDK
/// reads them unconditionally (a response without them fails as a whole
/// there too). `ServiceType`, `ResourceARN` and `Version` may be missing: the
/// Python SDK then skips the rule rather than failing, and so does
/// [`crate::RuleSet`] (missing is read as empty / 0; see
/// [`SamplingRule::skip_reason`]). Unknown fields are ignored so that fields
/// X-Ray adds later do not break parsing.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(try_from = "ApiRule", into = "ApiRule")]
pub struct SamplingRule {
    /// Unique name; `Default` is X-Ray's catch-all rule.
    pub name: String,
    /// Lower values are tried first; ties are broken by name.
    pub priority: i32,
    /// Fraction of matching requests sampled once the reservoir is used up,
    /// 0 to 1.
    pub fixed_rate: f64,
    /// Requests per second X-Ray lets the fleet sample before the fixed rate
    /// applies. Each client gets a share of it as a quota from
    /// GetSamplingTargets; until then (and once the quota expired) a client
    /// borrows one request per second if this is positive.
    pub reservoir_size: u32,
    /// Wildcard pattern for the service name.
    pub service_name: String,
    /// Wildcard pattern for the service's origin (`AWS::EC2::Instance`...).
    pub service_type: String,
    /// Wildcard pattern for the request host.
    pub host: String,
    /// Wildcard pattern for the HTTP method.
    pub http_method: String,
    /// Wildcard pattern for the URL path.
    pub url_path: String,
    /// Wildcard pattern for the ARN of the resource the service runs on.
    pub resource_arn: String,
    /// Attribute name and wildcard value pairs; all must be present on a
    /// request for the rule to match.
    pub attributes: Vec<(String, String)>,
    /// Rule format version; X-Ray only defines 1.
    pub version: u32,
    /// Adaptive sampling: how far X-Ray may boost this rule's rate when
    /// clients report anomalies.
    pub sampling_rate_boost: Option<SamplingRateBoost>,
}

/// A rule's `SamplingRateBoost`: the most X-Ray may raise the rate to, and
/// how often a boost may start.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, Serialize)]
pub struct SamplingRateBoost {
    /// Highest boosted rate, 0 to 1.
    #[serde(rename = "MaxRate", deserialize_with = "rate")]
    pub max_rate: f64,
    /// At most one boost starts per window of this many minutes.
    #[serde(rename = "CooldownWindowMinutes")]
    pub cooldown_window_minutes: u32,
}

/// Why [`crate::RuleSet`] leaves a rule out, as the Python SDK does
/// (`ServiceConnector._is_rule_valid`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// `Version` is not 1 (or missing). Only version 1 is defined; a rule of
    /// another version may mean something this code does not know.
    UnsupportedVersion(u32),
    /// `ServiceType` is empty or missing. The Python SDK requires a non-empty
    /// value; X-Ray itself always sends one (`*` at least).
    EmptyServiceType,
    /// `ResourceARN` is empty or missing. The Python SDK requires `*`; rules
    /// with another non-empty ARN are kept here and matched (an extension),
    /// but an empty one could never match and is dropped as the SDK does.
    EmptyResourceArn,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::UnsupportedVersion(v) => {
                write!(f, "rule version {v} is not supported (only 1 is)")
            }
            SkipReason::EmptyServiceType => f.write_str("ServiceType is empty or missing"),
            SkipReason::EmptyResourceArn => f.write_str("ResourceARN is empty or missing"),
        }
    }
}

/// A rule left out of a [`crate::RuleSet`], and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedRule {
    /// The rule's name.
    pub name: String,
    /// Why it was left out.
    pub reason: SkipReason,
}

impl SamplingRule {
    /// A rule with every matching field `*`, version 1, no attributes.
    pub fn new(
        name: impl Into<String>,
        priority: i32,
        fixed_rate: f64,
        reservoir_size: u32,
    ) -> Self {
        SamplingRule {
            name: name.into(),
            priority,
            fixed_rate,
            reservoir_size,
            service_name: "*".into(),
            service_type: "*".into(),
            host: "*".into(),
            http_method: "*".into(),
            url_path: "*".into(),
            resource_arn: "*".into(),
            attributes: Vec::new(),
            version: 1,
            sampling_rate_boost: None,
        }
    }

    /// X-Ray's `Default` rule with the given rates (X-Ray's own default is
    /// one request per second and 5%).
    pub fn default_rule(fixed_rate: f64, reservoir_size: u32) -> Self {
        SamplingRule::new(
            DEFAULT_RULE_NAME,
            DEFAULT_RULE_PRIORITY,
            fixed_rate,
            reservoir_size,
        )
    }

    /// Whether this is X-Ray's `Default` rule (by name, as the SDKs tell it).
    pub fn is_default(&self) -> bool {
        self.name == DEFAULT_RULE_NAME
    }

    /// Why a rule set would leave this rule out, if it would.
    pub fn skip_reason(&self) -> Option<SkipReason> {
        if self.version != 1 {
            Some(SkipReason::UnsupportedVersion(self.version))
        } else if self.service_type.is_empty() {
            Some(SkipReason::EmptyServiceType)
        } else if self.resource_arn.is_empty() {
            Some(SkipReason::EmptyResourceArn)
        } else {
            None
        }
    }

    /// Sets the service name pattern.
    pub fn with_service_name(mut self, pattern: impl Into<String>) -> Self {
        self.service_name = pattern.into();
        self
    }

    /// Sets the service type pattern.
    pub fn with_service_type(mut self, pattern: impl Into<String>) -> Self {
        self.service_type = pattern.into();
        self
    }

    /// Sets the host pattern.
    pub fn with_host(mut self, pattern: impl Into<String>) -> Self {
        self.host = pattern.into();
        self
    }

    /// Sets the HTTP method pattern.
    pub fn with_http_method(mut self, pattern: impl Into<String>) -> Self {
        self.http_method = pattern.into();
        self
    }

    /// Sets the URL path pattern.
    pub fn with_url_path(mut self, pattern: impl Into<String>) -> Self {
        self.url_path = pattern.into();
        self
    }

    /// Sets the resource ARN pattern.
    pub fn with_resource_arn(mut self, pattern: impl Into<String>) -> Self {
        self.resource_arn = pattern.into();
        self
    }

    /// Adds an attribute the request must have, with a wildcard value.
    pub fn with_attribute(mut self, key: impl Into<String>, pattern: impl Into<String>) -> Self {
        self.attributes.push((key.into(), pattern.into()));
        self
    }

    /// Sets the adaptive sampling boost limits.
    pub fn with_rate_boost(mut self, max_rate: f64, cooldown_window_minutes: u32) -> Self {
        self.sampling_rate_boost = Some(SamplingRateBoost {
            max_rate,
            cooldown_window_minutes,
        });
        self
    }
}

/// The rule as it appears in X-Ray's JSON.
#[derive(Deserialize, Serialize)]
struct ApiRule {
    #[serde(rename = "RuleName")]
    rule_name: String,
    #[serde(rename = "RuleARN", default, skip_serializing_if = "Option::is_none")]
    rule_arn: Option<String>,
    #[serde(rename = "ResourceARN", default)]
    resource_arn: Option<String>,
    #[serde(rename = "Priority")]
    priority: i32,
    #[serde(rename = "FixedRate", deserialize_with = "rate")]
    fixed_rate: f64,
    #[serde(rename = "ReservoirSize")]
    reservoir_size: u32,
    #[serde(rename = "ServiceName")]
    service_name: String,
    #[serde(rename = "ServiceType", default)]
    service_type: Option<String>,
    #[serde(rename = "Host")]
    host: String,
    #[serde(rename = "HTTPMethod")]
    http_method: String,
    #[serde(rename = "URLPath")]
    url_path: String,
    #[serde(rename = "Version", default)]
    version: Option<u32>,
    #[serde(
        rename = "Attributes",
        default,
        deserialize_with = "attributes",
        serialize_with = "serialize_attributes",
        skip_serializing_if = "Vec::is_empty"
    )]
    attributes: Vec<(String, String)>,
    #[serde(
        rename = "SamplingRateBoost",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    sampling_rate_boost: Option<SamplingRateBoost>,
}

impl TryFrom<ApiRule> for SamplingRule {
    type Error = String;

    fn try_from(r: ApiRule) -> Result<Self, String> {
        if r.rule_name.is_empty() {
            return Err("RuleName must not be empty".into());
        }
        Ok(SamplingRule {
            name: r.rule_name,
            priority: r.priority,
            fixed_rate: r.fixed_rate,
            reservoir_size: r.reservoir_size,
            service_name: r.service_name,
            service_type: r.service_type.unwrap_or_default(),
            host: r.host,
            http_method: r.http_method,
            url_path: r.url_path,
            resource_arn: r.resource_arn.unwrap_or_default(),
            attributes: r.attributes,
            version: r.version.unwrap_or(0),
            sampling_rate_boost: r.sampling_rate_boost,
        })
    }
}

impl From<SamplingRule> for ApiRule {
    fn from(r: SamplingRule) -> Self {
        ApiRule {
            rule_name: r.name,
            rule_arn: None,
            resource_arn: Some(r.resource_arn),
            priority: r.priority,
            fixed_rate: r.fixed_rate,
            reservoir_size: r.reservoir_size,
            service_name: r.service_name,
            service_type: Some(r.service_type),
            host: r.host,
            http_method: r.http_method,
            url_path: r.url_path,
            version: Some(r.version),
            attributes: r.attributes,
            sampling_rate_boost: r.sampling_rate_boost,
        }
    }
}

/// A rate: a number from 0 to 1.
pub(crate) fn rate<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let v = f64::deserialize(d)?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(de::Error::custom(format!(
            "rate {v} is not between 0 and 1"
        )))
    }
}

/// A JSON object of strings, kept in document order.
fn attributes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, String)>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<(String, String)>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object of attribute names to wildcard values")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some((k, v)) = map.next_entry::<String, String>()? {
                out.push((k, v));
            }
            Ok(out)
        }
    }
    d.deserialize_any(V)
}

fn serialize_attributes<S: Serializer>(
    attrs: &[(String, String)],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(attrs.iter().map(|(k, v)| (k, v)))
}
