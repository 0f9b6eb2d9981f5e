//! X-Ray sampling set up: the local rules (from a file, or the SDKs'
//! default), the rule engine that roots are decided by, and the thread that
//! keeps centralized rules and quotas current through the sampling proxy.

mod local_file;
mod poller;
mod proxy;

use std::sync::{Arc, Mutex};

use xray_sampling::{
    AdaptiveSamplingConfig, LocalRules, RuleSet, Sampler as Engine, client_id_from_random,
};

use crate::config::{SamplingEndpoint, SamplingSettings};
use crate::id::Rng;
use crate::sampler::rules::{self, XrayRules};

use poller::Poller;

/// The running poller of the current installation; replacing it stops the
/// previous one.
static POLLER: Mutex<Option<Poller>> = Mutex::new(None);

/// Makes X-Ray's rules decide new roots, as `settings` say, for the service
/// `service_name`. Call before the sampler is switched to them.
pub(crate) fn install(settings: &SamplingSettings, service_name: &str) {
    let local = match &settings.rules_file {
        Some(path) => local_file::load(path),
        None => RuleSet::from_local(&LocalRules::sdk_default()),
    };
    let mut rng = Rng::new();
    let random = u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64());
    let engine = Engine::new(local, client_id_from_random(random));
    let adaptive = settings.adaptive.as_ref().and_then(|(source, value)| {
        AdaptiveSamplingConfig::from_env_value(value)
            .map_err(|err| {
                eprintln!(
                    "xray: ignoring {source} ({err}); no anomaly capture, and X-Ray's default anomalies (5xx, errors) for sampling boosts"
                );
            })
            .ok()
    });
    let installed = Arc::new(XrayRules::new(engine, service_name.to_string(), adaptive));
    rules::install(Some(installed.clone()));
    let poller = match &settings.endpoint {
        SamplingEndpoint::Url(base) => {
            poller::start(installed, base.clone(), settings.polling_interval)
        }
        SamplingEndpoint::None => None,
    };
    *POLLER.lock().unwrap_or_else(|e| e.into_inner()) = poller;
}

/// Stops polling and forgets the rules (another sampler was installed, or
/// tracing shut down).
pub(crate) fn uninstall() {
    let previous = POLLER.lock().unwrap_or_else(|e| e.into_inner()).take();
    drop(previous);
    rules::install(None);
}
