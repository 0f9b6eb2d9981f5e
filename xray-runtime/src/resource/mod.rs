//! Where the service runs: resource detection for AWS Lambda, Elastic
//! Beanstalk, EKS, ECS and EC2, as the semantic conventions describe it
//! (`cloud.*`, `host.*`, `aws.ecs.*`, `aws.log.group.names`, `faas.*`,
//! `k8s.*`), so that X-Ray shows the service's origin and links its traces
//! to its CloudWatch log groups.
//!
//! Detection runs once per installation on threads of its own, bounded by
//! [`Settings::budget`]: the application's threads never wait for it. The
//! export thread waits for it (at most the budget) before its first export,
//! so that every batch carries the same resource; a detector that has not
//! answered by then adds nothing. Each detector first looks for a cheap sign
//! of its platform (an environment variable, a file) and asks no endpoint
//! without one.
//!
//! * `lambda`, `beanstalk`: the environment and a file;
//! * `ecs`, `eks`, `ec2`: the task metadata endpoint, the Kubernetes API,
//!   the instance metadata service (IMDSv2);
//! * `http`: the small blocking HTTP client they use, every request bounded
//!   by the deadline and a size limit;
//! * `json`: reading their JSON answers.

#[cfg(feature = "aws")]
mod beanstalk;
#[cfg(feature = "aws")]
mod ec2;
#[cfg(feature = "aws")]
mod ecs;
#[cfg(feature = "aws")]
mod eks;
#[cfg(feature = "aws")]
mod http;
#[cfg(feature = "aws")]
mod json;
#[cfg(feature = "aws")]
mod lambda;

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry::KeyValue;

/// How long detection may take, in all: what the first export waits at most.
pub(crate) const DEFAULT_BUDGET: Duration = Duration::from_millis(1000);

/// The keys detectors share.
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub(crate) const CLOUD_PROVIDER: &str = "cloud.provider";
pub(crate) const CLOUD_PLATFORM: &str = "cloud.platform";

/// One resource detector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Detector {
    Lambda,
    ElasticBeanstalk,
    Eks,
    Ecs,
    Ec2,
}

impl Detector {
    /// Every detector, the most specific platform first: when two detect
    /// (ECS on EC2, Elastic Beanstalk on EC2), the first one's
    /// `cloud.platform` wins and the other only adds what it alone knows.
    pub(crate) const ALL: [Detector; 5] = [
        Detector::Lambda,
        Detector::ElasticBeanstalk,
        Detector::Eks,
        Detector::Ecs,
        Detector::Ec2,
    ];

    /// The name in `OTEL_RESOURCE_DETECTORS`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Detector::Lambda => "lambda",
            Detector::ElasticBeanstalk => "elastic_beanstalk",
            Detector::Eks => "eks",
            Detector::Ecs => "ecs",
            Detector::Ec2 => "ec2",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of detectors.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Detectors(u8);

impl Detectors {
    pub(crate) const NONE: Self = Self(0);
    pub(crate) const ALL: Self = Self(0b1_1111);

    pub(crate) fn contains(self, detector: Detector) -> bool {
        self.0 & detector.bit() != 0
    }

    pub(crate) fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Reads a comma-separated list: detector names (also with an `aws_`
    /// prefix, as `cloud.platform` spells them), `aws` or `all` for every
    /// one, `none` for none; `env` is accepted and means nothing more (the
    /// environment's attributes are always read). Returns the set and the
    /// names it did not know.
    pub(crate) fn parse(list: &str) -> (Self, Vec<String>) {
        let mut set = Self::NONE;
        let mut unknown = Vec::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let lower = name.to_ascii_lowercase();
            let bare = lower.strip_prefix("aws_").unwrap_or(&lower);
            match bare {
                "none" => return (Self::NONE, Vec::new()),
                "all" | "aws" => set = Self::ALL,
                "env" => {}
                "beanstalk" => set.0 |= Detector::ElasticBeanstalk.bit(),
                _ => match Detector::ALL.iter().find(|d| d.name() == bare) {
                    Some(detector) => set.0 |= detector.bit(),
                    None => unknown.push(name.to_string()),
                },
            }
        }
        (set, unknown)
    }
}

impl Default for Detectors {
    fn default() -> Self {
        Self::ALL
    }
}

impl fmt::Debug for Detectors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = Detector::ALL
            .iter()
            .filter(|d| self.contains(**d))
            .map(|d| d.name())
            .collect();
        if names.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&names.join(","))
        }
    }
}

/// What AWS Lambda puts in a function's environment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct LambdaEnv {
    pub function_name: String,
    pub function_version: Option<String>,
    pub region: Option<String>,
    /// Megabytes, as `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` says.
    pub memory_mb: Option<u64>,
    pub log_group: Option<String>,
    pub log_stream: Option<String>,
}

/// Where the Kubernetes API is, and the pod's service account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KubernetesEnv {
    /// `https://<KUBERNETES_SERVICE_HOST>:<KUBERNETES_SERVICE_PORT>`.
    pub api: String,
    /// The service account's folder: `token`, `ca.crt`, `namespace`.
    pub account_dir: PathBuf,
    /// The pod's name (its host name).
    pub pod_name: Option<String>,
}

/// Which detectors run and where they look, as the configuration resolved
/// it from the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Settings {
    pub detectors: Detectors,
    pub budget: Duration,
    /// Set inside AWS Lambda.
    pub lambda: Option<LambdaEnv>,
    /// The ECS task metadata endpoint (`ECS_CONTAINER_METADATA_URI_V4`).
    pub ecs_uri: Option<String>,
    /// Set inside a Kubernetes pod.
    pub kubernetes: Option<KubernetesEnv>,
    /// EC2's instance metadata service; `None` when disabled.
    pub ec2_endpoint: Option<String>,
    /// The endpoint was named (`AWS_EC2_METADATA_SERVICE_ENDPOINT`): it is
    /// asked even on a host that shows no sign of being an EC2 instance.
    pub ec2_endpoint_named: bool,
    /// Elastic Beanstalk's X-Ray file.
    pub beanstalk_file: PathBuf,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            detectors: Detectors::ALL,
            budget: DEFAULT_BUDGET,
            lambda: None,
            ecs_uri: None,
            kubernetes: None,
            ec2_endpoint: Some(EC2_DEFAULT_ENDPOINT.to_string()),
            ec2_endpoint_named: false,
            beanstalk_file: PathBuf::from(BEANSTALK_FILE),
        }
    }
}

/// IMDS, as the AWS SDKs find it by default.
pub(crate) const EC2_DEFAULT_ENDPOINT: &str = "http://169.254.169.254";
/// IMDS over IPv6 (`AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6`).
pub(crate) const EC2_IPV6_ENDPOINT: &str = "http://[fd00:ec2::254]";
/// Where Elastic Beanstalk describes the environment for X-Ray.
pub(crate) const BEANSTALK_FILE: &str = "/var/elasticbeanstalk/xray/environment.conf";
/// A pod's service account, as Kubernetes mounts it.
pub(crate) const K8S_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

type Callback = Box<dyn FnOnce(&[KeyValue]) + Send>;

/// Detection under way: its result once every detector answered or the
/// budget ran out.
pub(crate) struct Detection {
    deadline: Instant,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    result: Option<Vec<KeyValue>>,
    callbacks: Vec<Callback>,
}

impl fmt::Debug for Detection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Detection")
            .field("deadline", &self.deadline)
            .field("done", &self.result().is_some())
            .finish()
    }
}

impl Detection {
    fn new(deadline: Instant) -> Self {
        Self {
            deadline,
            state: Mutex::new(State::default()),
        }
    }

    /// When detection gives up on detectors that have not answered.
    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The detected attributes, once detection is over.
    pub(crate) fn result(&self) -> Option<Vec<KeyValue>> {
        self.lock().result.clone()
    }

    /// Runs `f` with the detected attributes once detection is over (at
    /// once, here, if it is over already).
    pub(crate) fn when_done(&self, f: impl FnOnce(&[KeyValue]) + Send + 'static) {
        let mut state = self.lock();
        match &state.result {
            Some(result) => {
                let result = result.clone();
                drop(state);
                f(&result);
            }
            None => state.callbacks.push(Box::new(f)),
        }
    }

    fn finish(&self, result: Vec<KeyValue>) {
        let callbacks = {
            let mut state = self.lock();
            state.result = Some(result.clone());
            std::mem::take(&mut state.callbacks)
        };
        for callback in callbacks {
            callback(&result);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Starts detecting with `settings`, off the caller's thread. `None` when
/// no detector is on.
pub(crate) fn start(settings: Settings) -> Option<Arc<Detection>> {
    if settings.detectors.is_empty() {
        return None;
    }
    let detection = Arc::new(Detection::new(Instant::now() + settings.budget));
    let running = detection.clone();
    let spawned = std::thread::Builder::new()
        .name("xray-detect".into())
        .spawn(move || {
            let attributes = detect(&settings, running.deadline);
            running.finish(attributes);
        });
    if let Err(err) = spawned {
        eprintln!(
            "xray: cannot start resource detection ({err}); the resource has no cloud attributes"
        );
        detection.finish(Vec::new());
    }
    Some(detection)
}

/// Runs every applicable detector at once, each on a thread of its own,
/// and merges what answered by `deadline` (the most specific first). A
/// detector that found signs of its platform but failed, or did not answer
/// in time, is named on stderr and adds nothing.
#[cfg(feature = "aws")]
fn detect(settings: &Settings, deadline: Instant) -> Vec<KeyValue> {
    use std::sync::mpsc;

    type Probe = Box<dyn FnOnce(Instant) -> Result<Vec<KeyValue>, String> + Send>;
    let on = |detector| settings.detectors.contains(detector);
    // A Lambda function has nothing else to find; a container on ECS or
    // Kubernetes is told by its platform, and its instance's metadata is
    // often out of its reach (IMDSv2's hop limit): EC2 is asked there only
    // when its endpoint was named.
    let in_lambda = on(Detector::Lambda) && settings.lambda.is_some();
    let in_container = (on(Detector::Ecs) && settings.ecs_uri.is_some())
        || (on(Detector::Eks) && settings.kubernetes.is_some());
    let mut probes: Vec<(Detector, Probe)> = Vec::new();
    for detector in Detector::ALL {
        if !on(detector) || (in_lambda && detector != Detector::Lambda) {
            continue;
        }
        let probe: Option<Probe> = match detector {
            Detector::Lambda => settings
                .lambda
                .clone()
                .map(|env| -> Probe { Box::new(move |_| Ok(lambda::detect(&env))) }),
            Detector::ElasticBeanstalk => {
                let file = settings.beanstalk_file.clone();
                Some(Box::new(move |_| beanstalk::detect(&file)))
            }
            Detector::Eks => settings
                .kubernetes
                .clone()
                .map(|env| -> Probe { Box::new(move |deadline| eks::detect(&env, deadline)) }),
            Detector::Ecs => settings
                .ecs_uri
                .clone()
                .map(|uri| -> Probe { Box::new(move |deadline| ecs::detect(&uri, deadline)) }),
            Detector::Ec2 => settings
                .ec2_endpoint
                .clone()
                .filter(|_| {
                    settings.ec2_endpoint_named || (!in_container && ec2::host_looks_like_ec2())
                })
                .map(|endpoint| -> Probe {
                    Box::new(move |deadline| ec2::detect(&endpoint, deadline))
                }),
        };
        if let Some(probe) = probe {
            probes.push((detector, probe));
        }
    }
    let (sender, answers) = mpsc::channel();
    let mut waiting = Vec::new();
    for (detector, probe) in probes {
        let sender = sender.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("xray-detect-{}", detector.name()))
            .spawn(move || {
                let _ = sender.send((detector, probe(deadline)));
            });
        if spawned.is_ok() {
            waiting.push(detector);
        }
    }
    drop(sender);
    let mut found: Vec<(Detector, Vec<KeyValue>)> = Vec::new();
    while !waiting.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok((detector, answer)) = answers.recv_timeout(left) else {
            break;
        };
        waiting.retain(|d| *d != detector);
        match answer {
            Ok(attributes) => found.push((detector, attributes)),
            Err(why) if told(settings, detector) => eprintln!(
                "xray: resource detection: {} left out ({why})",
                detector.name()
            ),
            Err(_) => {}
        }
    }
    for detector in waiting.into_iter().filter(|d| told(settings, *d)) {
        eprintln!(
            "xray: resource detection: {} left out (no answer within {} ms)",
            detector.name(),
            settings.budget.as_millis()
        );
    }
    found.sort_by_key(|(detector, _)| Detector::ALL.iter().position(|d| d == detector));
    merge(found.into_iter().map(|(_, attributes)| attributes))
}

/// Whether a detector's failure is said on stderr: always, but for EC2
/// asked on a guess (the host looked like an instance, no endpoint named):
/// a container on an instance often cannot reach its metadata, and says so
/// by not answering.
#[cfg(feature = "aws")]
fn told(settings: &Settings, detector: Detector) -> bool {
    detector != Detector::Ec2 || settings.ec2_endpoint_named
}

/// Without the `aws` feature there are no detectors.
#[cfg(not(feature = "aws"))]
fn detect(_settings: &Settings, _deadline: Instant) -> Vec<KeyValue> {
    Vec::new()
}

/// The attributes of every detector, the first one's value winning for a
/// key several set.
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
fn merge(found: impl Iterator<Item = Vec<KeyValue>>) -> Vec<KeyValue> {
    let mut merged: Vec<KeyValue> = Vec::new();
    for attributes in found {
        for attribute in attributes {
            if !merged.iter().any(|kv| kv.key == attribute.key) {
                merged.push(attribute);
            }
        }
    }
    merged
}

/// The value of `key` among `attributes`, as text.
#[cfg(test)]
pub(crate) fn text_of(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detector_lists() {
        let (set, unknown) = Detectors::parse("ecs, aws_ec2,EKS");
        assert_eq!(format!("{set:?}"), "eks,ecs,ec2");
        assert!(unknown.is_empty());
        let (set, unknown) = Detectors::parse("env,lambda,azure_vm");
        assert_eq!(format!("{set:?}"), "lambda");
        assert_eq!(unknown, vec!["azure_vm".to_string()]);
        assert_eq!(Detectors::parse("ec2,none").0, Detectors::NONE);
        assert_eq!(Detectors::parse("aws").0, Detectors::ALL);
        assert_eq!(
            format!("{:?}", Detectors::parse("beanstalk").0),
            "elastic_beanstalk"
        );
    }

    #[test]
    fn the_most_specific_platform_wins() {
        let ecs = vec![
            KeyValue::new(CLOUD_PLATFORM, "aws_ecs"),
            KeyValue::new("aws.ecs.task.family", "orders"),
        ];
        let ec2 = vec![
            KeyValue::new(CLOUD_PLATFORM, "aws_ec2"),
            KeyValue::new("host.id", "i-1"),
        ];
        let merged = merge([ecs, ec2].into_iter());
        let get = |key: &str| text_of(&merged, key);
        assert_eq!(get(CLOUD_PLATFORM).as_deref(), Some("aws_ecs"));
        assert_eq!(get("host.id").as_deref(), Some("i-1"));
        assert_eq!(merged.len(), 3);
    }

    #[test]
    fn callbacks_run_once_detection_is_over() {
        let detection = Detection::new(Instant::now());
        let (tx, rx) = std::sync::mpsc::channel();
        let early = tx.clone();
        detection.when_done(move |attrs| early.send(attrs.len()).unwrap());
        assert!(rx.try_recv().is_err());
        detection.finish(vec![KeyValue::new("a", 1)]);
        assert_eq!(rx.try_recv(), Ok(1));
        detection.when_done(move |attrs| tx.send(attrs.len() + 10).unwrap());
        assert_eq!(rx.try_recv(), Ok(11));
    }
}
