//! Harness of the AWS tests: moto as DynamoDB, S3 and SQS (through the
//! peers' harness of `tests/secure`), and SDK configurations pointed at it
//! with the HTTP client the runtime itself uses (rustls with ring).

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

pub use xray_secure_tests::{Peer, Value, run, scratch, spans};

/// The region every test client uses (moto takes any).
pub const REGION: &str = "us-west-2";

/// moto's AWS mocks on a free port, with a record of every request.
pub struct Moto {
    pub peer: Peer,
}

impl Moto {
    pub fn start(name: &str) -> Self {
        let dir = scratch(name);
        Self {
            peer: Peer::start("moto_peer.py", &dir, &[]),
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.peer.port())
    }

    /// Sets the fault in force (`POST /_control/mode`, see tests/peers/README.md).
    pub fn fault(&self, mode: &str) {
        self.peer.control("/_control/mode", mode, None);
    }

    /// The requests recorded for `target` (an `X-Amz-Target`).
    pub fn requests_for(&self, target: &str) -> Vec<Value> {
        self.peer
            .records()
            .into_iter()
            .filter(|r| r["target"] == target)
            .collect()
    }
}

/// The shared configuration of clients talking to `endpoint`: fixed
/// credentials and region, quick retries (3 attempts), and an attempt
/// timeout of `attempt_timeout`.
pub async fn sdk_config(endpoint: &str, attempt_timeout: Duration) -> SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .endpoint_url(endpoint)
        .http_client(http)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(5))
                .with_max_backoff(Duration::from_millis(20)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(attempt_timeout)
                .build(),
        )
        .load()
        .await
}
