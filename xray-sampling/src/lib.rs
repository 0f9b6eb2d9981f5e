//! AWS X-Ray sampling rules.
//!
//! * [`Pattern`] / [`wildcard_match`]: X-Ray's `*` / `?` wildcards,
//!   case-insensitive, exactly as the AWS X-Ray SDK for Python matches them.
//! * [`SamplingRule`], [`RuleSet`]: rules ordered by priority then name, the
//!   first match deciding, with per-rule reservoirs (quota from X-Ray, or one
//!   borrowed request per second), fixed and boosted rates, and the
//!   statistics X-Ray wants back.
//! * [`Sampler`]: the centralized rule set that a poller swaps at run time
//!   (lock-free), with local rules as the fallback.
//! * [`api`]: GetSamplingRules / GetSamplingTargets bodies and the other
//!   JSON forms of rules; [`LocalRules`]: the SDKs' local rules file;
//!   [`adaptive`]: ADOT's adaptive sampling configuration.
//!
//! The decision path takes no lock, allocates nothing and never reads a clock
//! or a random number generator: the caller passes the current epoch second
//! and 64 random bits (such as the random part of the trace id).
//!
//! ```
//! use xray_sampling::{RuleSet, SamplingRequest, SamplingRule};
//!
//! let rules = RuleSet::new(
//!     vec![
//!         SamplingRule::new("api", 10, 0.5, 2).with_url_path("/api/*").with_http_method("GET"),
//!         SamplingRule::default_rule(0.05, 1),
//!     ],
//!     1_700_000_000,
//! );
//! let req = SamplingRequest { http_method: "get", url_path: "/API/users", ..SamplingRequest::new() };
//! let decision = rules.decide(&req, 1_700_000_001, 0x1234_5678_9abc_def0);
//! assert_eq!(decision.rule.and_then(|r| rules.rule_name(r)), Some("api"));
//! // No quota from X-Ray yet: the first request of the second is borrowed.
//! assert!(decision.sampled && decision.borrowed);
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod adaptive;
pub mod api;
mod error;
mod fields;
mod label;
mod local;
mod precheck;
mod request;
mod rule;
mod ruleset;
mod sampler;
mod state;
#[cfg(test)]
mod test_rng;
pub mod timestamp;
mod wildcard;

pub use adaptive::{AdaptiveSamplingConfig, Anomaly, AnomalyCaptureLimiter, RootOutcome};
pub use api::parse_sampling_rules;
pub use error::ParseError;
pub use local::{LocalDefaultRule, LocalRule, LocalRules, is_sdk_rules_file};
pub use request::{SamplingRequest, service_type_for_cloud_platform};
pub use rule::{
    DEFAULT_RULE_NAME, DEFAULT_RULE_PRIORITY, SamplingRateBoost, SamplingRule, SkipReason,
    SkippedRule,
};
pub use ruleset::{Decision, RULES_TTL, RuleRef, RuleSet, TargetsApplied};
pub use sampler::{Sampler, Snapshot, client_id_from_random};
pub use wildcard::{Pattern, wildcard_match};
