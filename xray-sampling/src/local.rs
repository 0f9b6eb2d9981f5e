//! The X-Ray SDKs' local sampling rules file, used before centralized rules
//! arrive, when they cannot be fetched, and when they are more than an hour
//! old.
//!
//! Version 2:
//!
//! ```json
//! {
//!   "version": 2,
//!   "rules": [
//!     {"description": "Player moves.", "host": "*", "http_method": "*",
//!      "url_path": "/api/move/*", "fixed_target": 0, "rate": 0.05}
//!   ],
//!   "default": {"fixed_target": 1, "rate": 0.1}
//! }
//! ```
//!
//! Version 1 is the same with `service_name` in place of `host`; as in the
//! Python SDK its value is still matched against the request's *host*.
//! Validation follows the Python SDK (`local/sampler.py`,
//! `local/sampling_rule.py`): the version must be 1 or 2; `default` is
//! required and must not set the host (v1: `service_name`), `http_method` or
//! `url_path`; every other rule must set all three to non-empty strings;
//! `fixed_target` and `rate` are required and non-negative in every rule.
//! Other keys (`description` aside) are ignored, including `service_name` in
//! version 2 (the Python SDK does not match it either). One difference:
//! `fixed_target` must be a whole number here (the SDK would accept 1.5 and
//! sample two a second).

use crate::error::ParseError;
use serde::Deserialize;
use serde::de::{self, Deserializer};

/// A parsed local rules file.
#[derive(Clone, Debug, PartialEq)]
pub struct LocalRules {
    /// 1 or 2.
    pub version: u32,
    /// Custom rules, tried in file order.
    pub rules: Vec<LocalRule>,
    /// Applies when no custom rule matches.
    pub default: LocalDefaultRule,
}

/// A custom local rule.
#[derive(Clone, Debug, PartialEq)]
pub struct LocalRule {
    /// Free text; used as the rule's name in decisions when not empty.
    pub description: String,
    /// Wildcard pattern for the request host (`service_name` in version 1).
    pub host: String,
    /// Wildcard pattern for the HTTP method.
    pub http_method: String,
    /// Wildcard pattern for the URL path.
    pub url_path: String,
    /// Requests sampled per second before the rate applies.
    pub fixed_target: u64,
    /// Rate for the requests beyond `fixed_target`.
    pub rate: f64,
}

/// The local default rule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LocalDefaultRule {
    /// Requests sampled per second before the rate applies.
    pub fixed_target: u64,
    /// Rate for the requests beyond `fixed_target`.
    pub rate: f64,
}

impl LocalRules {
    /// The rules the SDKs use when none are configured: one request per
    /// second and 5% of the rest.
    pub fn sdk_default() -> Self {
        LocalRules {
            version: 2,
            rules: Vec::new(),
            default: LocalDefaultRule {
                fixed_target: 1,
                rate: 0.05,
            },
        }
    }

    /// Parses a local rules file (JSON). Errors carry the line and column
    /// where reading stopped and the reason.
    pub fn parse(json: &str) -> Result<Self, ParseError> {
        let header: Header = serde_json::from_str(json)?;
        match header.version {
            1 => Ok(serde_json::from_str::<File<1>>(json)?.into_rules(1)),
            _ => Ok(serde_json::from_str::<File<2>>(json)?.into_rules(2)),
        }
    }
}

/// Whether `text` is a rules file in the SDKs' format (an object with a
/// lowercase `version`), rather than in X-Ray's own (rules with `RuleName`,
/// `Version`, ...). Errors are JSON syntax errors.
pub fn is_sdk_rules_file(text: &str) -> Result<bool, ParseError> {
    #[derive(Deserialize)]
    struct Probe {
        version: Option<de::IgnoredAny>,
    }
    if text.trim_start().starts_with('[') {
        return Ok(false);
    }
    let probe: Probe = serde_json::from_str(text)?;
    Ok(probe.version.is_some())
}

#[derive(Deserialize)]
struct Header {
    #[serde(deserialize_with = "version")]
    version: u32,
}

fn version<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = f64::deserialize(d)?;
    if v == 1.0 {
        Ok(1)
    } else if v == 2.0 {
        Ok(2)
    } else {
        Err(de::Error::custom(format!(
            "manifest version {v} is not supported (1 or 2 are)"
        )))
    }
}

/// The file once its version is known; `V` selects the key of the host
/// pattern (`service_name` in 1, `host` in 2).
#[derive(Deserialize)]
struct File<const V: u8> {
    #[serde(default)]
    rules: Vec<Rule<V>>,
    default: DefaultRule<V>,
}

impl<const V: u8> File<V> {
    fn into_rules(self, version: u32) -> LocalRules {
        LocalRules {
            version,
            rules: self.rules.into_iter().map(|r| r.0).collect(),
            default: self.default.0,
        }
    }
}

/// Every key a rule may have, in either version.
#[derive(Deserialize)]
struct RawRule {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    service_name: Option<String>,
    #[serde(default)]
    http_method: Option<String>,
    #[serde(default)]
    url_path: Option<String>,
    #[serde(default, deserialize_with = "whole_number")]
    fixed_target: Option<u64>,
    #[serde(default, deserialize_with = "number")]
    rate: Option<f64>,
}

impl RawRule {
    fn host_pattern<const V: u8>(&self) -> Option<&str> {
        let host = if V == 1 {
            &self.service_name
        } else {
            &self.host
        };
        host.as_deref().filter(|h| !h.is_empty())
    }

    fn rates(&self) -> Result<(u64, f64), String> {
        match (self.fixed_target, self.rate) {
            (Some(fixed_target), Some(rate)) if rate >= 0.0 => Ok((fixed_target, rate)),
            _ => Err("All rules must have non-negative values for fixed_target and rate".into()),
        }
    }
}

fn host_key<const V: u8>() -> &'static str {
    if V == 1 { "service_name" } else { "host" }
}

#[derive(Deserialize)]
#[serde(try_from = "RawRule")]
struct Rule<const V: u8>(LocalRule);

impl<const V: u8> TryFrom<RawRule> for Rule<V> {
    type Error = String;

    fn try_from(raw: RawRule) -> Result<Self, String> {
        let (fixed_target, rate) = raw.rates()?;
        let non_empty =
            |s: &Option<String>| s.as_deref().filter(|s| !s.is_empty()).map(str::to_owned);
        match (
            raw.host_pattern::<V>(),
            non_empty(&raw.http_method),
            non_empty(&raw.url_path),
        ) {
            (Some(host), Some(http_method), Some(url_path)) => Ok(Rule(LocalRule {
                description: raw.description.clone().unwrap_or_default(),
                host: host.to_owned(),
                http_method,
                url_path,
                fixed_target,
                rate,
            })),
            _ => Err(format!(
                "All non-default rules must have values for url_path, {}, and http_method",
                host_key::<V>()
            )),
        }
    }
}

#[derive(Deserialize)]
#[serde(try_from = "RawRule")]
struct DefaultRule<const V: u8>(LocalDefaultRule);

impl<const V: u8> TryFrom<RawRule> for DefaultRule<V> {
    type Error = String;

    fn try_from(raw: RawRule) -> Result<Self, String> {
        let (fixed_target, rate) = raw.rates()?;
        let set = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
        if raw.host_pattern::<V>().is_some() || set(&raw.http_method) || set(&raw.url_path) {
            return Err(format!(
                "The default rule must not specify values for url_path, {}, or http_method",
                host_key::<V>()
            ));
        }
        Ok(DefaultRule(LocalDefaultRule { fixed_target, rate }))
    }
}

fn whole_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let Some(v) = Option::<f64>::deserialize(d)? else {
        return Ok(None);
    };
    if v < 0.0 {
        Err(de::Error::custom(
            "All rules must have non-negative values for fixed_target and rate",
        ))
    } else if v.fract() != 0.0 || v > 1e15 {
        Err(de::Error::custom(format!(
            "fixed_target {v} is not a whole number of requests per second"
        )))
    } else {
        Ok(Some(v as u64))
    }
}

fn number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let v = Option::<f64>::deserialize(d)?;
    if v.is_some_and(|v| v < 0.0) {
        Err(de::Error::custom(
            "All rules must have non-negative values for fixed_target and rate",
        ))
    } else {
        Ok(v)
    }
}
