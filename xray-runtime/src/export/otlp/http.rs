//! OTLP over HTTP with protobuf bodies.

#[cfg(any(feature = "tls", feature = "aws"))]
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::OtlpSettings;
use super::client::{Attempt, accepted, describe};
#[cfg(feature = "aws")]
use super::sigv4::Signer;
#[cfg(feature = "tls")]
use super::tls::Trust;

/// The most of an error answer's body quoted in a message.
const MAX_QUOTED: usize = 200;

/// The connector: TLS-capable when built with TLS.
#[cfg(feature = "tls")]
type Connector = hyper_rustls::HttpsConnector<HttpConnector>;
#[cfg(not(feature = "tls"))]
type Connector = HttpConnector;

pub(crate) struct HttpClient {
    client: Client<Connector, Full<Bytes>>,
    url: http::Uri,
    headers: HeaderMap,
    /// Signs each request (AWS endpoints).
    #[cfg(feature = "aws")]
    signer: Option<Arc<Signer>>,
}

/// What an HTTPS connection and a signature need, when they apply.
#[derive(Default)]
pub(crate) struct Security {
    #[cfg(feature = "tls")]
    pub trust: Option<Arc<Trust>>,
    #[cfg(feature = "aws")]
    pub signer: Option<Arc<Signer>>,
}

impl HttpClient {
    /// A client of its own (not the application's HTTP client, whose
    /// features and settings are the application's business). Must be
    /// called inside the lane's runtime.
    pub(crate) fn new(settings: &OtlpSettings, security: Security) -> Result<Self, String> {
        let Security {
            #[cfg(feature = "tls")]
            trust,
            #[cfg(feature = "aws")]
            signer,
        } = security;
        let url: http::Uri = settings
            .endpoint
            .parse()
            .map_err(|e| format!("invalid OTLP endpoint {:?}: {e}", settings.endpoint))?;
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-protobuf"),
        );
        if settings.compression == super::Compression::Gzip {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        for (name, value) in &settings.headers {
            let name = HeaderName::try_from(name.as_str())
                .map_err(|e| format!("invalid OTLP header name {name:?}: {e}"))?;
            let value = HeaderValue::try_from(value.as_str())
                .map_err(|e| format!("invalid value for OTLP header {name}: {e}"))?;
            headers.insert(name, value);
        }
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(settings.timeout));
        http.set_nodelay(true);
        #[cfg(feature = "tls")]
        let connector = {
            http.enforce_http(false);
            let trust = trust.unwrap_or_else(|| Arc::new(Trust::none()));
            hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(trust.client_config(&[])?)
                .https_or_http()
                .enable_http1()
                .wrap_connector(http)
        };
        #[cfg(not(feature = "tls"))]
        let connector = {
            if url.scheme_str() == Some("https") {
                return Err(format!(
                    "the OTLP endpoint {url} needs TLS: build xray-runtime with its tls feature"
                ));
            }
            http
        };
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        Ok(Self {
            client,
            url,
            headers,
            #[cfg(feature = "aws")]
            signer,
        })
    }

    /// The request for `body`, signed when the endpoint wants it.
    async fn request(&self, body: Bytes) -> Result<http::Request<Full<Bytes>>, Attempt> {
        let mut request = http::Request::post(self.url.clone())
            .body(body)
            .map_err(|e| Attempt::Failed(format!("cannot build the request: {e}")))?;
        *request.headers_mut() = self.headers.clone();
        #[cfg(feature = "aws")]
        if let Some(signer) = &self.signer {
            signer.sign(&mut request).await.map_err(Attempt::Failed)?;
        }
        Ok(request.map(Full::new))
    }

    pub(crate) async fn send(&self, body: Bytes) -> Attempt {
        let request = match self.request(body).await {
            Ok(request) => request,
            Err(attempt) => return attempt,
        };
        let response = match self.client.request(request).await {
            Ok(response) => response,
            Err(err) => {
                return Attempt::Retry {
                    reason: describe(&err),
                    after: None,
                };
            }
        };
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let body = match response.into_body().collect().await {
            Ok(body) => body.to_bytes(),
            Err(err) => {
                return Attempt::Retry {
                    reason: format!("the answer was cut short: {}", describe(&err)),
                    after: None,
                };
            }
        };
        if status.is_success() {
            return accepted(Some(&body));
        }
        let reason = format!("HTTP {status}{}", quoted(&body));
        match status {
            StatusCode::TOO_MANY_REQUESTS
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT => Attempt::Retry {
                reason,
                after: retry_after,
            },
            _ => Attempt::Failed(reason),
        }
    }
}

/// `Retry-After` in seconds, as OTLP receivers send it.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers
        .get(header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds))
}

/// ` (the body)` when the receiver said why, cut to a readable length.
fn quoted(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() || text.contains('\u{fffd}') {
        return String::new();
    }
    let cut: String = text.chars().take(MAX_QUOTED).collect();
    format!(" ({cut})")
}
