//! What signing requests for AWS needs, set up when the exporter starts:
//! the region (from the configuration, else the AWS profile), the endpoint
//! of the AWS service in it (X-Ray's, CloudWatch Logs') when that is where
//! the signal goes, and the credentials, kept fresh on the exporter's
//! runtime.

use std::sync::Arc;
use std::time::Duration;

use aws_config::Region;
use aws_config::meta::region::ProvideRegion;
use aws_config::profile::ProfileFileRegionProvider;
use aws_config::provider_config::ProviderConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use tokio::runtime::Runtime;

use super::OtlpSettings;
use super::aws_host;
use super::credentials::Cache;
use super::sigv4::Signer;

/// The longest start-up waits for the profile's region (a local file).
const PROFILE_WAIT: Duration = Duration::from_secs(2);

/// The signer for `settings`, when its requests are signed; completes the
/// endpoint of the AWS service once the region is known.
pub(crate) fn signer(
    settings: &mut OtlpSettings,
    runtime: &Runtime,
) -> Result<Option<Arc<Signer>>, String> {
    let Some(signing) = settings.signing.clone() else {
        return Ok(None);
    };
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let base = ProviderConfig::default().with_http_client(http);
    let region = match signing.region {
        Some(region) => region,
        None => runtime
            .block_on(async {
                let profile = ProfileFileRegionProvider::builder().configure(&base).build();
                tokio::time::timeout(PROFILE_WAIT, profile.region()).await
            })
            .ok()
            .flatten()
            .map(|region| region.as_ref().to_string())
            .ok_or_else(|| {
                "no AWS region to sign requests for: set AWS_REGION (or a region in the AWS profile)"
                    .to_string()
            })?,
    };
    if settings.endpoint.is_empty() {
        settings.endpoint =
            aws_host::service_endpoint(&signing.service, &region, settings.signal.http_path());
    }
    let credentials = {
        let _enter = runtime.enter();
        Cache::start(base.with_region(Some(Region::new(region.clone()))))
    };
    Ok(Some(Arc::new(Signer::new(
        signing.service,
        region,
        credentials,
    ))))
}
