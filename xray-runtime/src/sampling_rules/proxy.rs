//! The sampling proxy's two calls, `POST /GetSamplingRules` and
//! `POST /SamplingTargets`, over plain HTTP as the X-Ray daemon, the
//! CloudWatch agent and a collector's `awsproxy` serve them (they sign the
//! calls they forward to X-Ray).

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use xray_sampling::SamplingRule;
use xray_sampling::api::{
    GetSamplingRulesRequest, GetSamplingRulesResponse, GetSamplingTargetsRequest,
    GetSamplingTargetsResponse,
};

/// The longest a call may take, answer included.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest answer read: rules pages and targets are a few kilobytes.
const MAX_ANSWER: usize = 1 << 20;
/// Pages of rules read at most in one fetch (X-Ray allows a few dozen
/// rules; a proxy that never stops paging is not followed forever).
const MAX_PAGES: usize = 100;
/// The most of an error answer quoted in a message.
const MAX_QUOTED: usize = 120;

/// A client of the sampling proxy at one base URL.
pub(crate) struct Proxy {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
}

impl Proxy {
    /// A client for `base` (`http://host:port`). Must be called inside a
    /// tokio runtime.
    pub(crate) fn new(base: &str) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(CALL_TIMEOUT));
        Self {
            client: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(30))
                .build(connector),
            base: base.trim_end_matches('/').to_string(),
        }
    }

    /// The proxy's base URL.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// Every rule, following `NextToken` from page to page.
    pub(crate) async fn sampling_rules(&self) -> Result<Vec<SamplingRule>, String> {
        let mut rules = Vec::new();
        let mut next_token = None;
        for _ in 0..MAX_PAGES {
            let body = GetSamplingRulesRequest { next_token }.to_json();
            let answer = self.call("/GetSamplingRules", body).await?;
            let page = GetSamplingRulesResponse::from_json(&answer)
                .map_err(|e| format!("GetSamplingRules answered {e}"))?;
            next_token = page.next_token.clone().filter(|t| !t.is_empty());
            rules.extend(page.into_rules());
            if next_token.is_none() {
                return Ok(rules);
            }
        }
        Err(format!(
            "GetSamplingRules kept paging past {MAX_PAGES} pages"
        ))
    }

    /// Sends statistics; the answer holds the targets.
    pub(crate) async fn sampling_targets(
        &self,
        request: &GetSamplingTargetsRequest,
    ) -> Result<GetSamplingTargetsResponse, String> {
        let answer = self.call("/SamplingTargets", request.to_json()).await?;
        GetSamplingTargetsResponse::from_json(&answer)
            .map_err(|e| format!("SamplingTargets answered {e}"))
    }

    /// One POST with a JSON body; the answer's body when it is a success.
    async fn call(&self, path: &str, body: String) -> Result<String, String> {
        let request = Request::builder()
            .method(Method::POST)
            .uri(format!("{}{path}", self.base))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("cannot build the request to {path}: {e}"))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| describe_error(&e))?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|e| format!("reading the answer of {path}: {e}"))?
                .to_bytes();
            let text = String::from_utf8_lossy(&body).into_owned();
            if status != StatusCode::OK {
                return Err(format!("{path} answered {status}: {}", quote(&text)));
            }
            Ok(text)
        };
        tokio::time::timeout(CALL_TIMEOUT, exchange)
            .await
            .map_err(|_| format!("{path} did not answer within {} s", CALL_TIMEOUT.as_secs()))?
    }
}

/// A client error with its cause (hyper's own message is terse).
fn describe_error(error: &hyper_util::client::legacy::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The start of a body, on one line.
fn quote(text: &str) -> String {
    let line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_QUOTED)
        .collect();
    if text.chars().count() > MAX_QUOTED {
        format!("{line}...")
    } else {
        line
    }
}
