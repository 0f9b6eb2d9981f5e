//! The two contenders of the export-path measurements, set up as their
//! users would: xray (`xray_runtime::init` with its OTLP exporter) and the
//! raw OpenTelemetry SDK (`SdkTracerProvider` with the default
//! `BatchSpanProcessor` over `opentelemetry-otlp`: reqwest's blocking
//! client for HTTP, tonic on a tokio runtime for gRPC).
//!
//! The secure options ([`Secure`]) reach xray through the standard
//! environment variables it is to read (`OTEL_EXPORTER_OTLP_COMPRESSION`,
//! `OTEL_EXPORTER_OTLP_CERTIFICATE`, `XRAY_OTLP_SIGV4` and the `AWS_*`
//! credentials), and the SDK through its own API: `with_compression`,
//! `with_tls_config` (gRPC) or a reqwest client trusting the CA (HTTP), and
//! for SigV4 the signing client of [`crate::sigv4`].

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry_otlp::{
    Compression, Protocol, WithExportConfig, WithHttpConfig, WithTonicConfig,
};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, SpanData, SpanExporter};
use xray_runtime::{Config, ExporterKind, SamplerKind};

pub use crate::receiver::Transport;

/// The `service.name` both contenders report.
pub const SERVICE_NAME: &str = "xray-bench-export";

/// The fixed test credentials of `--sigv4` (the AWS documentation's
/// example keys), region and service.
pub mod test_credentials {
    /// `AWS_ACCESS_KEY_ID`.
    pub const ACCESS_KEY_ID: &str = "AKIDEXAMPLE";
    /// `AWS_SECRET_ACCESS_KEY`.
    pub const SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    /// `AWS_REGION`.
    pub const REGION: &str = "us-east-1";
    /// The signing name of the X-Ray OTLP endpoint.
    pub const SERVICE: &str = "xray";
}

/// How long one export may take (the OTLP default, `OTEL_EXPORTER_OTLP_TIMEOUT`).
pub const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// xray, or the raw OpenTelemetry SDK (or neither, for the baseline).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contender {
    /// No tracing: the same loop around the plain function, for the floor
    /// of a step's CPU time (process start, the pacing loop's sleeps).
    None,
    /// `xray_runtime` with its OTLP exporter.
    Xray,
    /// `opentelemetry_sdk`'s `BatchSpanProcessor` with `opentelemetry-otlp`.
    Sdk,
}

impl Contender {
    /// `xray` or `sdk`.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Xray => "xray",
            Self::Sdk => "sdk",
        }
    }

    /// The contender named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "none" => Some(Self::None),
            "xray" => Some(Self::Xray),
            "sdk" => Some(Self::Sdk),
            _ => None,
        }
    }
}

/// The options of the secure export path. The default is the plain path.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Secure {
    /// gzip-compressed requests.
    pub gzip: bool,
    /// TLS to the receiver, trusting this CA (the endpoint is `https://`).
    pub ca_pem: Option<PathBuf>,
    /// AWS SigV4 signing of each OTLP/HTTP request with [`test_credentials`].
    pub sigv4: bool,
}

impl Secure {
    /// `plain`, or the options joined with `+` (`gzip+tls+sigv4`).
    pub fn label(&self) -> String {
        let mut parts = Vec::new();
        if self.gzip {
            parts.push("gzip");
        }
        if self.ca_pem.is_some() {
            parts.push("tls");
        }
        if self.sigv4 {
            parts.push("sigv4");
        }
        if parts.is_empty() {
            "plain".to_owned()
        } else {
            parts.join("+")
        }
    }

    /// The environment variables through which xray is given the options.
    pub fn xray_env(&self) -> Vec<(&'static str, String)> {
        let mut vars = Vec::new();
        if self.gzip {
            vars.push(("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip".to_owned()));
        }
        if let Some(ca) = &self.ca_pem {
            vars.push(("OTEL_EXPORTER_OTLP_CERTIFICATE", ca.display().to_string()));
        }
        if self.sigv4 {
            vars.push(("XRAY_OTLP_SIGV4", "true".to_owned()));
            vars.push((
                "AWS_ACCESS_KEY_ID",
                test_credentials::ACCESS_KEY_ID.to_owned(),
            ));
            vars.push((
                "AWS_SECRET_ACCESS_KEY",
                test_credentials::SECRET_ACCESS_KEY.to_owned(),
            ));
            vars.push(("AWS_REGION", test_credentials::REGION.to_owned()));
        }
        vars
    }
}

/// A contender installed and exporting; its span function is
/// [`crate::xray::span`] or [`crate::otel::span`] ([`crate::plain`] for
/// [`Contender::None`], which installs nothing).
pub struct Exporting {
    inner: Inner,
    /// Spans the SDK's exporter reported exported (with `count_exported`).
    sdk_exported: Option<Arc<AtomicU64>>,
}

enum Inner {
    Nothing,
    Xray(xray_runtime::Guard),
    Sdk {
        provider: SdkTracerProvider,
        /// The tokio runtime tonic's channel runs on (gRPC only), as an
        /// application using the SDK's gRPC exporter has.
        _runtime: Option<tokio::runtime::Runtime>,
    },
}

/// Installs `contender` exporting to `endpoint`. With `count_exported`,
/// the SDK's exporter is wrapped to count the spans it exported (xray
/// counts them itself, `xray_runtime::stats`).
///
/// For xray, sets the environment variables of `secure`: call it from the
/// main thread before any other thread of the process starts.
pub fn start(
    contender: Contender,
    transport: Transport,
    endpoint: &str,
    secure: &Secure,
    count_exported: bool,
) -> Result<Exporting, String> {
    if secure.sigv4 && transport == Transport::Grpc {
        return Err("SigV4 signs OTLP/HTTP requests; it does not apply to gRPC".into());
    }
    #[cfg(feature = "secure")]
    if secure.ca_pem.is_some() || secure.sigv4 {
        // reqwest is built with `rustls-no-provider`: without a default
        // provider it would panic building any client (xray's too).
        crate::receiver::tls::install_default_provider();
    }
    #[cfg(not(feature = "secure"))]
    if secure.ca_pem.is_some() || secure.sigv4 {
        return Err(
            "--tls and --sigv4 need the `secure` feature of xray-bench (throughput.sh adds it)"
                .into(),
        );
    }
    match contender {
        Contender::None => Ok(Exporting {
            inner: Inner::Nothing,
            sdk_exported: None,
        }),
        Contender::Xray => Ok(start_xray(transport, endpoint, secure)),
        Contender::Sdk => start_sdk(transport, endpoint, secure, count_exported),
    }
}

fn start_xray(transport: Transport, endpoint: &str, secure: &Secure) -> Exporting {
    for (name, value) in secure.xray_env() {
        // SAFETY: `start` is documented to run on the main thread before
        // the process starts any other thread; nothing reads or writes the
        // environment concurrently.
        unsafe { std::env::set_var(name, value) };
    }
    let guard = xray_runtime::init(
        Config::new()
            .service_name(SERVICE_NAME)
            .exporter(ExporterKind::Otlp)
            .protocol(match transport {
                Transport::Http => xray_runtime::Protocol::HttpProtobuf,
                Transport::Grpc => xray_runtime::Protocol::Grpc,
            })
            .endpoint(endpoint)
            .sampler(SamplerKind::AlwaysOn),
    );
    Exporting {
        inner: Inner::Xray(guard),
        sdk_exported: None,
    }
}

fn start_sdk(
    transport: Transport,
    endpoint: &str,
    secure: &Secure,
    count_exported: bool,
) -> Result<Exporting, String> {
    let (exporter, runtime) = match transport {
        Transport::Http => (sdk_http_exporter(endpoint, secure)?, None),
        Transport::Grpc => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start a tokio runtime: {e}"))?;
            let exporter = {
                let _enter = runtime.enter();
                sdk_grpc_exporter(endpoint, secure)?
            };
            (exporter, Some(runtime))
        }
    };
    let builder = SdkTracerProvider::builder()
        .with_resource(Resource::builder().with_service_name(SERVICE_NAME).build())
        .with_sampler(Sampler::AlwaysOn);
    let sdk_exported = count_exported.then(|| Arc::new(AtomicU64::new(0)));
    // `with_batch_exporter`: the BatchSpanProcessor with its default
    // settings (`OTEL_BSP_*` apply).
    let provider = match &sdk_exported {
        Some(counter) => builder.with_batch_exporter(Counted {
            inner: exporter,
            exported: counter.clone(),
        }),
        None => builder.with_batch_exporter(exporter),
    }
    .build();
    crate::otel::use_provider(&provider);
    Ok(Exporting {
        inner: Inner::Sdk {
            provider,
            _runtime: runtime,
        },
        sdk_exported,
    })
}

fn sdk_http_exporter(
    endpoint: &str,
    secure: &Secure,
) -> Result<opentelemetry_otlp::SpanExporter, String> {
    let mut builder = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(endpoint)
        .with_timeout(EXPORT_TIMEOUT);
    if secure.gzip {
        builder = builder.with_compression(Compression::Gzip);
    }
    #[cfg(feature = "secure")]
    if secure.ca_pem.is_some() || secure.sigv4 {
        let client = crate::sigv4::blocking_client(secure.ca_pem.as_deref(), EXPORT_TIMEOUT)?;
        builder = if secure.sigv4 {
            builder.with_http_client(crate::sigv4::SigV4Client::new(client))
        } else {
            builder.with_http_client(client)
        };
    }
    builder
        .build()
        .map_err(|e| format!("the SDK's OTLP/HTTP exporter: {e}"))
}

fn sdk_grpc_exporter(
    endpoint: &str,
    secure: &Secure,
) -> Result<opentelemetry_otlp::SpanExporter, String> {
    let mut builder = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .with_timeout(EXPORT_TIMEOUT);
    if secure.gzip {
        builder = builder.with_compression(Compression::Gzip);
    }
    #[cfg(feature = "secure")]
    if let Some(ca) = &secure.ca_pem {
        let pem = std::fs::read(ca).map_err(|e| format!("{}: {e}", ca.display()))?;
        builder = builder.with_tls_config(
            tonic::transport::ClientTlsConfig::new()
                .ca_certificate(tonic::transport::Certificate::from_pem(pem)),
        );
    }
    builder
        .build()
        .map_err(|e| format!("the SDK's OTLP/gRPC exporter: {e}"))
}

impl Exporting {
    /// Exports everything ended so far and waits for it.
    pub fn flush(&self) -> Result<(), String> {
        match &self.inner {
            Inner::Nothing => Ok(()),
            Inner::Xray(guard) => guard.flush().map_err(|e| e.to_string()),
            Inner::Sdk { provider, .. } => provider.force_flush().map_err(|e| e.to_string()),
        }
    }

    /// Flushes and shuts down.
    pub fn shutdown(self) -> Result<(), String> {
        match &self.inner {
            Inner::Nothing => Ok(()),
            Inner::Xray(guard) => guard.shutdown().map_err(|e| e.to_string()),
            Inner::Sdk { provider, .. } => provider.shutdown().map_err(|e| e.to_string()),
        }
    }

    /// Spans exported so far, as the contender counts them: xray's
    /// `stats().exported`, the SDK's when started with `count_exported`.
    pub fn exported(&self) -> Option<u64> {
        match &self.inner {
            Inner::Nothing => None,
            Inner::Xray(_) => Some(xray_runtime::stats().exported),
            Inner::Sdk { .. } => self
                .sdk_exported
                .as_ref()
                .map(|c| c.load(Ordering::Acquire)),
        }
    }

    /// Spans the contender itself counted as lost (xray only; the SDK
    /// does not count them).
    pub fn self_counted_lost(&self) -> Option<u64> {
        match &self.inner {
            Inner::Xray(_) => Some(xray_runtime::stats().lost()),
            Inner::Nothing | Inner::Sdk { .. } => None,
        }
    }
}

/// An exporter that counts the spans its inner exporter exported.
#[derive(Debug)]
struct Counted<E> {
    inner: E,
    exported: Arc<AtomicU64>,
}

impl<E: SpanExporter> SpanExporter for Counted<E> {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let spans = batch.len() as u64;
        let exported = self.exported.clone();
        let export = self.inner.export(batch);
        async move {
            let result = export.await;
            if result.is_ok() {
                exported.fetch_add(spans, Ordering::AcqRel);
            }
            result
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
