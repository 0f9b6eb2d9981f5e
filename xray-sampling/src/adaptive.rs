//! Adaptive sampling: the local anomaly configuration that the AWS Distro for
//! OpenTelemetry (ADOT) reads from `AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG`, the
//! anomaly test it implies, and a per-second limit for capturing anomalous
//! traces that were not sampled.
//!
//! ```yaml
//! version: 1.0
//! anomalyConditions:
//!   - errorCodeRegex: "^5\\d\\d$"
//!     usage: both
//!   - operations: ["GET /api"]
//!     errorCodeRegex: "^429|5\\d\\d$"
//!     highLatencyMs: 300
//!     usage: sampling-boost
//! anomalyCaptureLimit:
//!   anomalyTracesPerSecond: 1
//! ```
//!
//! Semantics, and where the ADOT implementations disagree, which one is
//! followed:
//!
//! * `version` is required, a number with 1.0 <= version < 2.0 (ADOT Python
//!   also takes a numeric string, and so does this).
//! * Keys are checked: an unknown key at the top level or in a condition is
//!   an error (ADOT Python rejects unknown top-level keys; ADOT Java's JSON
//!   binding rejects unknown keys everywhere). This catches misspellings
//!   such as `errorCodeRegx` that would otherwise silently disable a
//!   condition.
//! * `usage` is `both` (the default when missing), `sampling-boost`,
//!   `anomaly-trace-capture` or `neither` (the values ADOT's code accepts);
//!   `anomaly-span-capture`, the spelling in X-Ray's documentation, is
//!   accepted as the same as `anomaly-trace-capture`.
//! * `operations` missing: the condition applies to every operation; an
//!   empty list: to none (X-Ray's documentation and ADOT Python; ADOT Java
//!   treats an empty list like a missing one).
//! * `errorCodeRegex` must match the whole status code (ADOT Java uses
//!   `Matcher.matches()`; ADOT Python's `re.match` only anchors the start).
//!   Regexes use the `regex` crate's syntax, which has no look-around or
//!   back-references.
//! * Within a condition, `errorCodeRegex` and `highLatencyMs` must both hold
//!   when both are given (latency >= the threshold); a condition with
//!   neither never fires. Conditions are tried in order and combine with OR.
//! * With no configuration, or one without `anomalyConditions`, a root is an
//!   anomaly for both uses when its HTTP status is 5xx, or when it has no
//!   status and ended with an error. A present but empty `anomalyConditions`
//!   replaces that default with nothing (X-Ray documents that conditions
//!   override the default; ADOT Java does this, ADOT Python falls back to
//!   the default on an empty list).
//! * `anomalyCaptureLimit` defaults to one trace per second.

use crate::error::ParseError;
use crate::state::PerSecond;
use regex::Regex;
use serde::Deserialize;
use serde::de::{self, Deserializer};
use std::fmt;
use std::time::Duration;

/// The parsed `AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdaptiveSamplingConfig {
    /// Schema version, 1.x.
    #[serde(deserialize_with = "version")]
    pub version: f64,
    /// Conditions that make a root an anomaly; `None` means X-Ray's default
    /// (HTTP 5xx or an error).
    #[serde(rename = "anomalyConditions", default)]
    pub anomaly_conditions: Option<Vec<AnomalyCondition>>,
    /// How many unsampled anomalous traces to capture per second.
    #[serde(rename = "anomalyCaptureLimit", default)]
    pub anomaly_capture_limit: Option<AnomalyCaptureLimit>,
}

/// One anomaly condition.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnomalyCondition {
    /// Status codes (as decimal text) that are anomalies.
    #[serde(rename = "errorCodeRegex", default)]
    pub error_code_regex: Option<ErrorCodeRegex>,
    /// Operations the condition applies to; `None` means all.
    #[serde(default)]
    pub operations: Option<Vec<String>>,
    /// Latency (milliseconds) at or above which a root is an anomaly.
    #[serde(rename = "highLatencyMs", default)]
    pub high_latency_ms: Option<u64>,
    /// What an anomaly found by this condition is used for; `None` is both.
    #[serde(default)]
    pub usage: Option<Usage>,
}

/// `anomalyCaptureLimit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnomalyCaptureLimit {
    /// Traces with anomalous spans captured per second at most.
    #[serde(rename = "anomalyTracesPerSecond")]
    pub anomaly_traces_per_second: u32,
}

/// What an anomaly condition is used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Usage {
    /// Boost statistics and anomaly capture.
    Both,
    /// Only boost statistics (`AnomalyCount` for X-Ray's sampling boost).
    SamplingBoost,
    /// Only capturing the anomalous trace even if it was not sampled.
    AnomalyTraceCapture,
    /// Neither (accepted because ADOT accepts it).
    Neither,
}

impl<'de> Deserialize<'de> for Usage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.as_str() {
            "both" => Ok(Usage::Both),
            "sampling-boost" => Ok(Usage::SamplingBoost),
            "anomaly-trace-capture" | "anomaly-span-capture" => Ok(Usage::AnomalyTraceCapture),
            "neither" => Ok(Usage::Neither),
            other => Err(de::Error::custom(format!(
                "invalid usage {other:?}: expected both, sampling-boost or anomaly-trace-capture"
            ))),
        }
    }
}

/// A compiled `errorCodeRegex`, with its answers for status codes 0 to 1023
/// precomputed so that classifying a root needs no regex run.
#[derive(Clone)]
pub struct ErrorCodeRegex {
    source: String,
    regex: Regex,
    small: [u64; 16],
}

impl ErrorCodeRegex {
    /// Compiles `pattern`, which must match a whole status code.
    pub fn new(pattern: &str) -> Result<Self, regex::Error> {
        let regex = Regex::new(&format!("^(?:{pattern})$"))?;
        let mut small = [0u64; 16];
        for code in 0..1024u32 {
            if regex.is_match(&code.to_string()) {
                small[(code / 64) as usize] |= 1 << (code % 64);
            }
        }
        Ok(ErrorCodeRegex {
            source: pattern.to_owned(),
            regex,
            small,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `code` is an anomaly.
    pub fn matches(&self, code: u16) -> bool {
        if code < 1024 {
            return self.small[usize::from(code / 64)] & (1 << (code % 64)) != 0;
        }
        let mut digits = [0u8; 5];
        let mut n = code;
        let mut start = digits.len();
        while n > 0 {
            start -= 1;
            digits[start] = b'0' + (n % 10) as u8;
            n /= 10;
        }
        std::str::from_utf8(&digits[start..]).is_ok_and(|s| self.regex.is_match(s))
    }
}

impl fmt::Debug for ErrorCodeRegex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ErrorCodeRegex").field(&self.source).finish()
    }
}

impl PartialEq for ErrorCodeRegex {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl<'de> Deserialize<'de> for ErrorCodeRegex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ErrorCodeRegex::new(&s)
            .map_err(|e| de::Error::custom(format!("invalid errorCodeRegex {s:?}: {e}")))
    }
}

fn version<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrText {
        Number(f64),
        Text(String),
    }
    let v = match NumberOrText::deserialize(d)? {
        NumberOrText::Number(v) => v,
        NumberOrText::Text(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| de::Error::custom(format!("version {s:?} is not a number")))?,
    };
    if (1.0..2.0).contains(&v) {
        Ok(v)
    } else {
        Err(de::Error::custom(format!(
            "incompatible adaptive sampling config version {v}: only 1.x is supported"
        )))
    }
}

/// What is known about a finished local root span, to tell whether it was an
/// anomaly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RootOutcome<'a> {
    /// `http.response.status_code`, if any.
    pub status_code: Option<u16>,
    /// Whether the span ended with an error status.
    pub is_error: bool,
    /// End time minus start time.
    pub latency: Duration,
    /// The operation (`aws.local.operation`, or [`ingress_operation`]).
    pub operation: &'a str,
}

/// Whether a root is an anomaly, and for what.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Anomaly {
    /// Count it in `AnomalyCount` for the sampling boost.
    pub boost: bool,
    /// Capture the trace even though it was not sampled.
    pub capture: bool,
}

impl AdaptiveSamplingConfig {
    /// Parses the configuration: YAML (with the `yaml` feature, so flow
    /// style such as `{version: 1.0, anomalyConditions: [...]}` works), or
    /// JSON without it.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        if text.trim().is_empty() {
            return Err(ParseError::without_position(
                "the adaptive sampling configuration is empty",
            ));
        }
        #[cfg(feature = "yaml")]
        {
            Self::from_yaml(text)
        }
        #[cfg(not(feature = "yaml"))]
        {
            Self::from_json(text)
        }
    }

    /// Parses the JSON form.
    pub fn from_json(text: &str) -> Result<Self, ParseError> {
        Ok(serde_json::from_str(text)?)
    }

    /// Parses the YAML form (JSON is valid YAML too).
    #[cfg(feature = "yaml")]
    pub fn from_yaml(text: &str) -> Result<Self, ParseError> {
        Ok(serde_norway::from_str(text)?)
    }

    /// Reads the value of `AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG`: like ADOT
    /// Python, a value naming an existing file is read from that file,
    /// anything else is the configuration itself.
    pub fn from_env_value(value: &str) -> Result<Self, ParseError> {
        let path = std::path::Path::new(value.trim());
        if !value.trim().is_empty() && path.is_file() {
            let text = std::fs::read_to_string(path).map_err(|e| {
                ParseError::without_position(format!(
                    "cannot read adaptive sampling configuration {}: {e}",
                    path.display()
                ))
            })?;
            return Self::parse(&text);
        }
        Self::parse(value)
    }

    /// Traces per second the anomaly capture may take (1 unless configured).
    pub fn capture_limit_per_second(&self) -> u32 {
        self.anomaly_capture_limit
            .map_or(1, |l| l.anomaly_traces_per_second)
    }

    /// Whether some anomaly may be captured under this configuration (the
    /// default conditions capture; listed ones capture when their usage
    /// says so).
    pub fn captures(&self) -> bool {
        self.anomaly_conditions.as_ref().is_none_or(|conditions| {
            conditions.iter().any(|c| {
                matches!(
                    c.usage.unwrap_or(Usage::Both),
                    Usage::Both | Usage::AnomalyTraceCapture
                )
            })
        })
    }

    /// Tells whether `root` is an anomaly under this configuration.
    pub fn classify(&self, root: &RootOutcome<'_>) -> Anomaly {
        let Some(conditions) = &self.anomaly_conditions else {
            return default_anomaly(root);
        };
        let mut found = Anomaly::default();
        for condition in conditions {
            // A condition that could only repeat what is already decided.
            if (found.boost && condition.usage == Some(Usage::SamplingBoost))
                || (found.capture && condition.usage == Some(Usage::AnomalyTraceCapture))
            {
                continue;
            }
            if let Some(operations) = &condition.operations
                && !operations.iter().any(|o| o == root.operation)
            {
                continue;
            }
            let mut anomaly = false;
            if let (Some(code), Some(regex)) = (root.status_code, &condition.error_code_regex) {
                anomaly = regex.matches(code);
            }
            if let Some(ms) = condition.high_latency_ms {
                let slow = root.latency >= Duration::from_millis(ms);
                anomaly = (condition.error_code_regex.is_none() || anomaly) && slow;
            }
            if anomaly {
                match condition.usage.unwrap_or(Usage::Both) {
                    Usage::Both => {
                        found.boost = true;
                        found.capture = true;
                    }
                    Usage::SamplingBoost => found.boost = true,
                    Usage::AnomalyTraceCapture => found.capture = true,
                    Usage::Neither => {}
                }
            }
            if found.boost && found.capture {
                break;
            }
        }
        found
    }
}

/// Whether `root` is an anomaly under `config`, or under X-Ray's default
/// (HTTP 5xx, or an error without a status) when there is none.
pub fn classify(config: Option<&AdaptiveSamplingConfig>, root: &RootOutcome<'_>) -> Anomaly {
    match config {
        Some(config) => config.classify(root),
        None => default_anomaly(root),
    }
}

fn default_anomaly(root: &RootOutcome<'_>) -> Anomaly {
    let anomaly = match root.status_code {
        Some(code) => code > 499,
        None => root.is_error,
    };
    Anomaly {
        boost: anomaly,
        capture: anomaly,
    }
}

/// The operation name ADOT derives for an incoming request without
/// `aws.local.operation`: the method and the first path segment
/// (`GET /api` for `GET /api/v1/users`), `/` for a path without a second
/// segment, `UnknownOperation` when the path is unknown (empty).
pub fn ingress_operation(http_method: &str, url_path: &str) -> String {
    if url_path.is_empty() {
        return "UnknownOperation".to_owned();
    }
    let first = url_path.split('/').nth(1).unwrap_or("");
    if http_method.is_empty() {
        format!("/{first}")
    } else {
        format!("{http_method} /{first}")
    }
}

/// Limits how many anomalous, unsampled traces are captured per second.
/// Lock-free, like the reservoir.
#[derive(Default)]
pub struct AnomalyCaptureLimiter {
    per_second: u64,
    window: PerSecond,
}

impl AnomalyCaptureLimiter {
    /// A limiter for `per_second` traces per second.
    pub fn new(per_second: u32) -> Self {
        AnomalyCaptureLimiter {
            per_second: u64::from(per_second),
            window: PerSecond::default(),
        }
    }

    /// A limiter for a configuration's `anomalyCaptureLimit`.
    pub fn for_config(config: &AdaptiveSamplingConfig) -> Self {
        Self::new(config.capture_limit_per_second())
    }

    /// Takes one of this second's places, if any is left.
    pub fn try_acquire(&self, now: u64) -> bool {
        self.window.take(now, self.per_second)
    }
}

impl fmt::Debug for AnomalyCaptureLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnomalyCaptureLimiter")
            .field("per_second", &self.per_second)
            .finish()
    }
}
