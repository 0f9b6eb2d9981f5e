//! SigV4 signing of OTLP requests for AWS endpoints, with the official
//! `aws-sigv4` crate and credentials from [`Cache`].

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;

use super::credentials::Cache;

/// Signs requests for one service in one region.
pub(crate) struct Signer {
    service: String,
    region: String,
    credentials: Cache,
}

impl Signer {
    pub(crate) fn new(service: String, region: String, credentials: Cache) -> Self {
        Self {
            service,
            region,
            credentials,
        }
    }

    /// Adds the SigV4 headers (`authorization`, `x-amz-date`, and
    /// `x-amz-security-token` for temporary credentials) to `request`,
    /// whose body is final (compressed when it will be sent compressed).
    pub(crate) async fn sign(&self, request: &mut http::Request<Bytes>) -> Result<(), String> {
        let credentials = self.credentials.current().await?;
        sign_with(
            request,
            &credentials,
            &self.service,
            &self.region,
            SystemTime::now(),
        )
    }
}

/// Signs `request` with `credentials` at `time`.
pub(crate) fn sign_with(
    request: &mut http::Request<Bytes>,
    credentials: &Credentials,
    service: &str,
    region: &str,
    time: SystemTime,
) -> Result<(), String> {
    // The host is signed: write it as the request will carry it.
    if !request.headers().contains_key(http::header::HOST)
        && let Some(authority) = request.uri().authority()
    {
        let host = match (request.uri().scheme_str(), authority.port_u16()) {
            (Some("https"), Some(443)) | (Some("http"), Some(80)) => authority.host().to_string(),
            _ => authority.as_str().to_string(),
        };
        let value = http::HeaderValue::try_from(host)
            .map_err(|e| format!("cannot sign for this host: {e}"))?;
        request.headers_mut().insert(http::header::HOST, value);
    }
    let identity: Identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("cannot sign: {e}"))?
        .into();
    let headers: Vec<(&str, &str)> = request
        .headers()
        .iter()
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
        .collect();
    let uri = request.uri().to_string();
    let signable = SignableRequest::new(
        request.method().as_str(),
        uri,
        headers.into_iter(),
        SignableBody::Bytes(request.body()),
    )
    .map_err(|e| format!("cannot sign: {e}"))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| format!("cannot sign: {e}"))?
        .into_parts();
    instructions.apply_to_request_http1x(request);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_request_carries_its_signature_and_token() {
        let credentials = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            Some("session".into()),
            None,
            "test",
        );
        let mut request = http::Request::post("https://xray.us-east-1.amazonaws.com:443/v1/traces")
            .header("content-type", "application/x-protobuf")
            .body(Bytes::from_static(b"spans"))
            .expect("request");
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        sign_with(&mut request, &credentials, "xray", "us-east-1", time).expect("signed");
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(header("host"), "xray.us-east-1.amazonaws.com");
        assert_eq!(header("x-amz-date"), "20231114T221320Z");
        assert_eq!(header("x-amz-security-token"), "session");
        let authorization = header("authorization");
        assert!(
            authorization.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/us-east-1/xray/aws4_request, SignedHeaders="
            ),
            "{authorization}"
        );
        assert!(authorization.contains("content-type;host;x-amz-date;x-amz-security-token"));
        // Same request, same time: the same signature; another body: another.
        let mut again = http::Request::post("https://xray.us-east-1.amazonaws.com:443/v1/traces")
            .header("content-type", "application/x-protobuf")
            .body(Bytes::from_static(b"other"))
            .expect("request");
        sign_with(&mut again, &credentials, "xray", "us-east-1", time).expect("signed");
        assert_ne!(
            again.headers()["authorization"],
            request.headers()["authorization"]
        );
    }
}
