//! AWS credentials for signing, from the default chain of the official
//! crates (environment, profile, web identity / IRSA, ECS and EKS Pod
//! Identity container credentials, IMDSv2), kept fresh by a task on the
//! exporter's runtime: resolved at start, refreshed ahead of their expiry,
//! retried with backoff when a source fails. Requests never resolve
//! credentials themselves; they take the current ones, waiting at most
//! until their own deadline for the first.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use aws_config::default_provider::credentials::DefaultCredentialsChain;
use aws_config::provider_config::ProviderConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::provider::error::CredentialsError;
use tokio::sync::watch;

/// Refresh this long before the credentials expire.
const REFRESH_AHEAD: Duration = Duration::from_secs(300);
/// Credentials without an expiry (environment, profile) are read again
/// this often, so that rotated ones are picked up.
const REREAD_EVERY: Duration = Duration::from_secs(900);
/// The first wait after a failure; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Where the credentials stand.
#[derive(Clone, Debug)]
pub(crate) enum State {
    /// Not resolved yet.
    Loading,
    Ready(Credentials),
    /// The chain failed: why, naming the sources.
    Failed(String),
}

/// The current credentials, as the refresh task keeps them.
#[derive(Clone, Debug)]
pub(crate) struct Cache {
    state: watch::Receiver<State>,
}

impl Cache {
    /// Starts the refresh task on the current runtime.
    pub(crate) fn start(provider_config: ProviderConfig) -> Self {
        let (sender, state) = watch::channel(State::Loading);
        tokio::spawn(refresh(provider_config, sender));
        Self { state }
    }

    /// A cache always in `state` (tests).
    #[cfg(test)]
    pub(crate) fn fixed(state: State) -> Self {
        let (sender, receiver) = watch::channel(state);
        std::mem::forget(sender);
        Self { state: receiver }
    }

    /// The current credentials, waiting for the first ones if they are
    /// still being resolved (callers bound the wait with their timeout).
    pub(crate) async fn current(&self) -> Result<Credentials, String> {
        let mut state = self.state.clone();
        let ready = state
            .wait_for(|s| !matches!(s, State::Loading))
            .await
            .map(|s| s.clone())
            .unwrap_or_else(|_| State::Failed("the credentials task has stopped".into()));
        match ready {
            State::Ready(credentials) => match credentials.expiry() {
                Some(expiry) if expiry <= SystemTime::now() => Err(format!(
                    "the AWS credentials from {} expired at {}",
                    source_of(&credentials),
                    humantime(expiry)
                )),
                _ => Ok(credentials),
            },
            State::Failed(why) => Err(why),
            State::Loading => Err("AWS credentials are still being resolved".into()),
        }
    }
}

async fn refresh(provider_config: ProviderConfig, sender: watch::Sender<State>) {
    let chain = DefaultCredentialsChain::builder()
        .configure(provider_config)
        .build()
        .await;
    let mut backoff = FIRST_BACKOFF;
    loop {
        let wait = match chain.provide_credentials().await {
            Ok(credentials) => {
                backoff = FIRST_BACKOFF;
                let wait = next_refresh(&credentials);
                if sender.send(State::Ready(credentials)).is_err() {
                    return; // the exporter is gone
                }
                wait
            }
            Err(err) => {
                if sender.send(State::Failed(describe(&err))).is_err() {
                    return;
                }
                let wait = backoff;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                wait
            }
        };
        tokio::time::sleep(wait).await;
    }
}

/// When to fetch again: ahead of the expiry, or to pick up rotated ones.
fn next_refresh(credentials: &Credentials) -> Duration {
    match credentials.expiry() {
        None => REREAD_EVERY,
        Some(expiry) => expiry
            .duration_since(SystemTime::now())
            .unwrap_or_default()
            .saturating_sub(REFRESH_AHEAD)
            .clamp(FIRST_BACKOFF, REREAD_EVERY),
    }
}

/// The provider that gave `credentials` (`Environment`, `EcsContainer`,
/// `Ec2InstanceMetadata`, ...). The type shows it only in its `Debug`.
fn source_of(credentials: &Credentials) -> String {
    let debug = format!("{credentials:?}");
    debug
        .split_once("provider_name: \"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map_or_else(
            || "the AWS default credential chain".to_string(),
            |(name, _)| name.to_string(),
        )
}

/// The chain's error, with each source's reason, on one line.
fn describe(err: &CredentialsError) -> String {
    let mut text = format!("no AWS credentials: {err}");
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let _ = write!(text, ": {cause}");
        source = cause.source();
    }
    let mut line = String::new();
    for part in text.lines().map(str::trim).filter(|part| !part.is_empty()) {
        if !line.is_empty() {
            line.push_str(if line.ends_with(':') { " " } else { "; " });
        }
        line.push_str(part);
    }
    line
}

/// `2026-11-30T18:00:00Z`, for messages.
fn humantime(at: SystemTime) -> String {
    let secs = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (hour, minute, second) = (rest / 3600, rest % 3600 / 60, rest % 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_utc() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_666_400);
        assert_eq!(humantime(at), "2026-12-07T18:00:00Z");
        assert_eq!(humantime(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn refresh_ahead_of_the_expiry() {
        let fresh = |secs: u64| {
            Credentials::new(
                "AKID",
                "secret",
                None,
                Some(SystemTime::now() + Duration::from_secs(secs)),
                "test",
            )
        };
        let wait = next_refresh(&fresh(3600));
        assert!(wait <= Duration::from_secs(900), "{wait:?}");
        let wait = next_refresh(&fresh(400));
        assert!(
            (Duration::from_secs(90)..=Duration::from_secs(100)).contains(&wait),
            "{wait:?}"
        );
        assert_eq!(next_refresh(&fresh(10)), FIRST_BACKOFF);
    }

    #[test]
    fn expired_credentials_are_refused_with_their_source() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let expired = Credentials::new(
            "AKID",
            "secret",
            Some("token".into()),
            Some(SystemTime::now() - Duration::from_secs(60)),
            "EcsContainer",
        );
        let cache = Cache::fixed(State::Ready(expired));
        let err = runtime.block_on(cache.current()).expect_err("expired");
        assert!(
            err.contains("EcsContainer") && err.contains("expired"),
            "{err}"
        );
        let cache = Cache::fixed(State::Failed("no AWS credentials: none".into()));
        assert!(runtime.block_on(cache.current()).is_err());
    }
}
