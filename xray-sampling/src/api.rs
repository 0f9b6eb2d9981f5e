//! X-Ray's sampling API bodies (`POST /GetSamplingRules`,
//! `POST /SamplingTargets`, as the X-Ray daemon and the CloudWatch agent
//! proxy them) and the JSON forms of rules that `aws xray` reads and prints.

use crate::error::ParseError;
use crate::rule::SamplingRule;
use crate::timestamp;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

/// Most statistics documents of each kind that one GetSamplingTargets
/// request may carry.
pub const MAX_DOCUMENTS_PER_REQUEST: usize = 25;

/// Body of `GetSamplingRules`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetSamplingRulesRequest {
    /// Pagination token from the previous page.
    #[serde(rename = "NextToken", default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

impl GetSamplingRulesRequest {
    /// The JSON body.
    pub fn to_json(&self) -> String {
        to_json(self)
    }
}

/// One rule with its creation and modification times.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SamplingRuleRecord {
    /// The rule.
    #[serde(rename = "SamplingRule")]
    pub rule: SamplingRule,
    /// Epoch seconds.
    #[serde(
        rename = "CreatedAt",
        default,
        deserialize_with = "timestamp::deserialize_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_at: Option<f64>,
    /// Epoch seconds.
    #[serde(
        rename = "ModifiedAt",
        default,
        deserialize_with = "timestamp::deserialize_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub modified_at: Option<f64>,
}

/// Response of `GetSamplingRules` (also what `aws xray get-sampling-rules`
/// prints).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GetSamplingRulesResponse {
    /// The rules of this page.
    #[serde(rename = "SamplingRuleRecords", default)]
    pub sampling_rule_records: Vec<SamplingRuleRecord>,
    /// Present when there are more pages.
    #[serde(rename = "NextToken", default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

impl GetSamplingRulesResponse {
    /// Parses the response body.
    pub fn from_json(json: &str) -> Result<Self, ParseError> {
        Ok(serde_json::from_str(json)?)
    }

    /// The rules of this page.
    pub fn into_rules(self) -> Vec<SamplingRule> {
        self.sampling_rule_records
            .into_iter()
            .map(|r| r.rule)
            .collect()
    }
}

/// A rule's request counts over one reporting interval.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamplingStatisticsDocument {
    /// The rule.
    #[serde(rename = "RuleName")]
    pub rule_name: String,
    /// 24 hexadecimal digits identifying this client.
    #[serde(rename = "ClientID")]
    pub client_id: String,
    /// Epoch seconds.
    #[serde(rename = "Timestamp")]
    pub timestamp: u64,
    /// Requests that matched the rule.
    #[serde(rename = "RequestCount")]
    pub request_count: u64,
    /// Requests sampled by the quota or the fixed rate.
    #[serde(rename = "SampledCount")]
    pub sampled_count: u64,
    /// Requests sampled by borrowing.
    #[serde(rename = "BorrowCount")]
    pub borrow_count: u64,
}

/// A rule's anomaly counts, for adaptive sampling boosts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamplingBoostStatisticsDocument {
    /// The rule.
    #[serde(rename = "RuleName")]
    pub rule_name: String,
    /// The reporting service.
    #[serde(rename = "ServiceName")]
    pub service_name: String,
    /// Epoch seconds.
    #[serde(rename = "Timestamp")]
    pub timestamp: u64,
    /// Traces with an anomaly.
    #[serde(rename = "AnomalyCount")]
    pub anomaly_count: u64,
    /// Traces.
    #[serde(rename = "TotalCount")]
    pub total_count: u64,
    /// Sampled traces with an anomaly.
    #[serde(rename = "SampledAnomalyCount")]
    pub sampled_anomaly_count: u64,
}

/// Body of `GetSamplingTargets` (`POST /SamplingTargets`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetSamplingTargetsRequest {
    /// Statistics of the rules being reported (at most 25).
    #[serde(rename = "SamplingStatisticsDocuments")]
    pub sampling_statistics_documents: Vec<SamplingStatisticsDocument>,
    /// Anomaly statistics (at most 25); left out when empty.
    #[serde(
        rename = "SamplingBoostStatisticsDocuments",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub sampling_boost_statistics_documents: Vec<SamplingBoostStatisticsDocument>,
}

impl GetSamplingTargetsRequest {
    /// The JSON body.
    pub fn to_json(&self) -> String {
        to_json(self)
    }

    /// Splits documents into as many requests as the API's limit of 25 per
    /// list needs (none if both lists are empty).
    pub fn batches(
        statistics: Vec<SamplingStatisticsDocument>,
        boost: Vec<SamplingBoostStatisticsDocument>,
    ) -> Vec<GetSamplingTargetsRequest> {
        let mut statistics = statistics.into_iter();
        let mut boost = boost.into_iter();
        let mut out = Vec::new();
        loop {
            let s: Vec<_> = statistics
                .by_ref()
                .take(MAX_DOCUMENTS_PER_REQUEST)
                .collect();
            let b: Vec<_> = boost.by_ref().take(MAX_DOCUMENTS_PER_REQUEST).collect();
            if s.is_empty() && b.is_empty() {
                return out;
            }
            out.push(GetSamplingTargetsRequest {
                sampling_statistics_documents: s,
                sampling_boost_statistics_documents: b,
            });
        }
    }
}

/// A temporary boost of a rule's rate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SamplingBoost {
    /// The boosted rate.
    #[serde(rename = "BoostRate")]
    pub boost_rate: f64,
    /// Epoch seconds at which the boost ends.
    #[serde(rename = "BoostRateTTL", deserialize_with = "required_timestamp")]
    pub boost_rate_ttl: f64,
}

/// New quota, rate and reporting interval for one rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SamplingTargetDocument {
    /// The rule.
    #[serde(rename = "RuleName", default)]
    pub rule_name: Option<String>,
    /// Rate after the quota is used up.
    #[serde(rename = "FixedRate", default)]
    pub fixed_rate: Option<f64>,
    /// Requests per second this client may sample.
    #[serde(rename = "ReservoirQuota", default)]
    pub reservoir_quota: Option<i64>,
    /// Epoch seconds at which the quota expires.
    #[serde(
        rename = "ReservoirQuotaTTL",
        default,
        deserialize_with = "timestamp::deserialize_opt"
    )]
    pub reservoir_quota_ttl: Option<f64>,
    /// Seconds until the rule's statistics should be reported again.
    #[serde(rename = "Interval", default)]
    pub interval: Option<i64>,
    /// Adaptive sampling boost.
    #[serde(rename = "SamplingBoost", default)]
    pub sampling_boost: Option<SamplingBoost>,
}

/// A statistics document X-Ray could not process.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnprocessedStatistics {
    /// The rule.
    #[serde(rename = "RuleName", default)]
    pub rule_name: Option<String>,
    /// The error code.
    #[serde(rename = "ErrorCode", default)]
    pub error_code: Option<String>,
    /// The error message.
    #[serde(rename = "Message", default)]
    pub message: Option<String>,
}

/// Response of `GetSamplingTargets`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GetSamplingTargetsResponse {
    /// Targets for the reported rules.
    #[serde(rename = "SamplingTargetDocuments", default)]
    pub sampling_target_documents: Vec<SamplingTargetDocument>,
    /// Epoch seconds of the last change to any rule; later than the rules'
    /// fetch time means they must be fetched again.
    #[serde(
        rename = "LastRuleModification",
        default,
        deserialize_with = "timestamp::deserialize_opt"
    )]
    pub last_rule_modification: Option<f64>,
    /// Statistics X-Ray could not process.
    #[serde(rename = "UnprocessedStatistics", default)]
    pub unprocessed_statistics: Vec<UnprocessedStatistics>,
    /// Boost statistics X-Ray could not process.
    #[serde(rename = "UnprocessedBoostStatistics", default)]
    pub unprocessed_boost_statistics: Vec<UnprocessedStatistics>,
}

impl GetSamplingTargetsResponse {
    /// Parses the response body.
    pub fn from_json(json: &str) -> Result<Self, ParseError> {
        Ok(serde_json::from_str(json)?)
    }
}

fn required_timestamp<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    timestamp::deserialize_opt(d)?
        .ok_or_else(|| serde::de::Error::custom("BoostRateTTL must not be null"))
}

fn to_json<T: Serialize>(value: &T) -> String {
    // Plain structs of strings and numbers always serialize.
    serde_json::to_string(value).unwrap_or_else(|e| panic!("serializing an API body failed: {e}"))
}

/// Which shape of rule JSON a document has.
#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "SamplingRuleRecords")]
    records: Option<IgnoredAny>,
    #[serde(rename = "SamplingRule")]
    wrapped: Option<IgnoredAny>,
}

/// `create-sampling-rule --cli-input-json` input: `{"SamplingRule": {...}}`.
#[derive(Deserialize)]
struct Wrapped {
    #[serde(rename = "SamplingRule")]
    rule: SamplingRule,
}

/// Parses sampling rules in any of the JSON forms X-Ray tooling uses:
///
/// * `{"SamplingRuleRecords": [{"SamplingRule": {...}, "CreatedAt", "ModifiedAt"}], "NextToken"}`
///   (a GetSamplingRules response, or `aws xray get-sampling-rules` output);
/// * `{"SamplingRule": {...}}` (`aws xray create-sampling-rule --cli-input-json` input;
///   other keys such as `Tags` are ignored);
/// * a bare rule object `{"RuleName": ..., ...}`;
/// * a list of bare rules, or of `{"SamplingRule": ...}` objects.
///
/// Errors carry the line and column where parsing stopped.
pub fn parse_sampling_rules(json: &str) -> Result<Vec<SamplingRule>, ParseError> {
    let first = json.trim_start().as_bytes().first().copied();
    if first == Some(b'[') {
        let probes: Vec<Probe> = serde_json::from_str(json)?;
        return if probes.first().is_some_and(|p| p.wrapped.is_some()) {
            let items: Vec<Wrapped> = serde_json::from_str(json)?;
            Ok(items.into_iter().map(|w| w.rule).collect())
        } else {
            Ok(serde_json::from_str(json)?)
        };
    }
    let probe: Probe = serde_json::from_str(json)?;
    if probe.records.is_some() {
        Ok(GetSamplingRulesResponse::from_json(json)?.into_rules())
    } else if probe.wrapped.is_some() {
        let wrapped: Wrapped = serde_json::from_str(json)?;
        Ok(vec![wrapped.rule])
    } else {
        Ok(vec![serde_json::from_str(json)?])
    }
}
