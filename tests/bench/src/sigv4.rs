//! What a user of the raw OpenTelemetry SDK writes to send OTLP/HTTP to an
//! endpoint that wants AWS SigV4 (feature `secure`): an
//! `opentelemetry_http::HttpClient` around reqwest's blocking client (the
//! one `opentelemetry-otlp` uses by default) that signs each request with
//! the `aws-sigv4` crate.

use std::path::Path;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};

use crate::contender::test_credentials;

/// reqwest's blocking client with `timeout`, trusting only `ca_pem` when
/// given. Built on a thread of its own, as `opentelemetry-otlp` builds its
/// default one (reqwest's blocking client must not be built on a thread
/// that runs async code).
pub fn blocking_client(
    ca_pem: Option<&Path>,
    timeout: Duration,
) -> Result<reqwest::blocking::Client, String> {
    let ca = match ca_pem {
        None => None,
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            Some(
                reqwest::Certificate::from_pem(&pem)
                    .map_err(|e| format!("{}: {e}", path.display()))?,
            )
        }
    };
    std::thread::spawn(move || {
        let mut builder = reqwest::blocking::Client::builder().timeout(timeout);
        if let Some(ca) = ca {
            builder = builder.tls_certs_only([ca]);
        }
        builder.build()
    })
    .join()
    .map_err(|_| "building the HTTP client panicked".to_owned())?
    .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// Signs each request (SigV4, [`test_credentials`]) and sends it with the
/// inner client.
#[derive(Debug)]
pub struct SigV4Client {
    inner: reqwest::blocking::Client,
    credentials: Credentials,
}

impl SigV4Client {
    /// Signs with the fixed test credentials, for region `us-east-1` and
    /// service `xray`.
    pub fn new(inner: reqwest::blocking::Client) -> Self {
        Self {
            inner,
            credentials: Credentials::new(
                test_credentials::ACCESS_KEY_ID,
                test_credentials::SECRET_ACCESS_KEY,
                None,
                None,
                "xray-bench",
            ),
        }
    }

    fn sign(&self, request: &mut Request<Bytes>) -> Result<(), HttpError> {
        let identity = self.credentials.clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(test_credentials::REGION)
            .name(test_credentials::SERVICE)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()?
            .into();
        let uri = request.uri().to_string();
        let headers = request
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)));
        let signable = SignableRequest::new(
            request.method().as_str(),
            &uri,
            headers,
            SignableBody::Bytes(request.body()),
        )?;
        let (instructions, _signature) = sign(signable, &params)?.into_parts();
        instructions.apply_to_request_http1x(request);
        Ok(())
    }
}

#[async_trait]
impl HttpClient for SigV4Client {
    async fn send_bytes(&self, mut request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        self.sign(&mut request)?;
        self.inner.send_bytes(request).await
    }
}
