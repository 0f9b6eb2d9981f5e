//! OTLP to a collector, over gRPC or HTTP/protobuf.

use crate::export::BoxedExporter;

/// OTLP transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP over gRPC (port 4317 by convention).
    Grpc,
    /// OTLP over HTTP with protobuf bodies (port 4318 by convention); the OTLP default.
    HttpProtobuf,
}

impl Protocol {
    /// The name `OTEL_EXPORTER_OTLP_PROTOCOL` uses.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Grpc => "grpc",
            Self::HttpProtobuf => "http/protobuf",
        }
    }
}

/// The runtime that drives the gRPC client (tonic needs one, whatever the
/// application itself runs on); kept by the provider until shutdown.
#[cfg(feature = "otlp-grpc")]
pub(crate) type ExportRuntime = tokio::runtime::Runtime;
#[cfg(not(feature = "otlp-grpc"))]
pub(crate) type ExportRuntime = ();

/// Stops the gRPC client's runtime without blocking (safe inside an async
/// `main` too).
#[cfg(feature = "otlp-grpc")]
pub(crate) fn stop_runtime(runtime: ExportRuntime) {
    runtime.shutdown_background();
}
#[cfg(not(feature = "otlp-grpc"))]
pub(crate) fn stop_runtime(_runtime: ExportRuntime) {}

/// Builds the OTLP exporter for `protocol`. Endpoint, headers, timeout and
/// compression come from the standard `OTEL_EXPORTER_OTLP_*` variables, read
/// by opentelemetry-otlp; `endpoint` (given in code) is used only when no
/// endpoint variable is set, which the caller has checked.
pub(crate) fn build(
    protocol: Protocol,
    endpoint: Option<&str>,
    runtime: &mut Option<ExportRuntime>,
) -> Result<BoxedExporter, String> {
    match protocol {
        Protocol::Grpc => grpc(endpoint, runtime),
        Protocol::HttpProtobuf => http(endpoint),
    }
}

#[cfg(feature = "otlp-http")]
fn http(endpoint: Option<&str>) -> Result<BoxedExporter, String> {
    use opentelemetry_otlp::WithExportConfig;
    let mut builder = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary);
    if let Some(base) = endpoint {
        builder = builder.with_endpoint(traces_url(base));
    }
    let exporter = builder.build().map_err(|e| e.to_string())?;
    Ok(BoxedExporter::named(exporter, "OTLP/HTTP"))
}

#[cfg(not(feature = "otlp-http"))]
fn http(_endpoint: Option<&str>) -> Result<BoxedExporter, String> {
    Err("OTLP over HTTP needs the otlp-http feature of xray-runtime".into())
}

/// `OTEL_EXPORTER_OTLP_ENDPOINT` semantics: a base URL to which the signal
/// path is appended.
#[cfg_attr(not(feature = "otlp-http"), allow(dead_code))]
fn traces_url(base: &str) -> String {
    if base.trim_end_matches('/').ends_with("/v1/traces") {
        base.to_string()
    } else {
        format!("{}/v1/traces", base.trim_end_matches('/'))
    }
}

#[cfg(feature = "otlp-grpc")]
fn grpc(
    endpoint: Option<&str>,
    runtime: &mut Option<ExportRuntime>,
) -> Result<BoxedExporter, String> {
    use opentelemetry_otlp::WithExportConfig;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("xray-otlp-grpc")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the gRPC client's runtime: {e}"))?;
    let exporter = {
        // tonic's channel spawns its connection task on the current runtime.
        let _enter = rt.enter();
        let mut builder = opentelemetry_otlp::SpanExporter::builder().with_tonic();
        if let Some(endpoint) = endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        builder.build().map_err(|e| e.to_string())?
    };
    let exporter = in_runtime::InRuntime::new(exporter, rt.handle().clone());
    *runtime = Some(rt);
    Ok(BoxedExporter::named(exporter, "OTLP/gRPC"))
}

#[cfg(not(feature = "otlp-grpc"))]
fn grpc(
    _endpoint: Option<&str>,
    _runtime: &mut Option<ExportRuntime>,
) -> Result<BoxedExporter, String> {
    Err("OTLP over gRPC needs the otlp-grpc feature of xray-runtime".into())
}

#[cfg(feature = "otlp-grpc")]
mod in_runtime {
    use std::fmt;
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use std::time::Duration;

    use opentelemetry_sdk::Resource;
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::trace::{SpanData, SpanExporter};
    use tokio::runtime::Handle;

    /// Polls the wrapped exporter's futures inside our tokio runtime, so that
    /// tonic's timers and I/O work from the batch processor's plain thread.
    pub(super) struct InRuntime<E> {
        inner: E,
        handle: Handle,
    }

    impl<E> InRuntime<E> {
        pub(super) fn new(inner: E, handle: Handle) -> Self {
            Self { inner, handle }
        }
    }

    impl<E: fmt::Debug> fmt::Debug for InRuntime<E> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.inner.fmt(f)
        }
    }

    struct Entered<'a> {
        handle: &'a Handle,
        future: Pin<Box<dyn Future<Output = OTelSdkResult> + Send + 'a>>,
    }

    impl Future for Entered<'_> {
        type Output = OTelSdkResult;

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<OTelSdkResult> {
            let _enter = self.handle.enter();
            self.future.as_mut().poll(cx)
        }
    }

    impl<E: SpanExporter> SpanExporter for InRuntime<E> {
        fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
            Entered {
                handle: &self.handle,
                future: Box::pin(self.inner.export(batch)),
            }
        }

        fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
            let _enter = self.handle.enter();
            self.inner.shutdown_with_timeout(timeout)
        }

        fn force_flush(&self) -> OTelSdkResult {
            let _enter = self.handle.enter();
            self.inner.force_flush()
        }

        fn set_resource(&mut self, resource: &Resource) {
            self.inner.set_resource(resource)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::traces_url;

    #[test]
    fn traces_path_is_appended_once() {
        assert_eq!(traces_url("http://c:4318"), "http://c:4318/v1/traces");
        assert_eq!(traces_url("http://c:4318/"), "http://c:4318/v1/traces");
        assert_eq!(
            traces_url("http://c:4318/v1/traces"),
            "http://c:4318/v1/traces"
        );
    }
}
