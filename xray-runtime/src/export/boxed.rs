//! Any exporter chosen at run time, behind one type that counts what it
//! fails to deliver.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use crate::record::ANNOTATIONS_KEY;

pub(crate) type ExportFuture<'a> = Pin<Box<dyn Future<Output = OTelSdkResult> + Send + 'a>>;

/// Object-safe view of [`SpanExporter`], whose `export` returns `impl Future`.
trait DynExporter: Send + Sync + fmt::Debug {
    fn export_boxed(&self, batch: Vec<SpanData>) -> ExportFuture<'_>;
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult;
    fn set_resource(&mut self, resource: &Resource);
}

impl<T: SpanExporter> DynExporter for T {
    fn export_boxed(&self, batch: Vec<SpanData>) -> ExportFuture<'_> {
        Box::pin(SpanExporter::export(self, batch))
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        SpanExporter::shutdown_with_timeout(self, timeout)
    }
    fn set_resource(&mut self, resource: &Resource) {
        SpanExporter::set_resource(self, resource)
    }
}

/// Any `SpanExporter`, chosen at run time. Losses are counted by the export
/// thread, from what its lane reports.
pub(crate) struct BoxedExporter {
    inner: Box<dyn DynExporter>,
    name: &'static str,
}

impl fmt::Debug for BoxedExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoxedExporter")
            .field("name", &self.name)
            .field("inner", &self.inner)
            .finish()
    }
}

impl BoxedExporter {
    pub(crate) fn new(exporter: impl SpanExporter + 'static) -> Self {
        Self::named(exporter, "custom")
    }

    pub(crate) fn named(exporter: impl SpanExporter + 'static, name: &'static str) -> Self {
        Self {
            inner: Box::new(exporter),
            name,
        }
    }

    pub(crate) fn name(&self) -> &'static str {
        self.name
    }

    /// Exports `batch`, with each span's annotation lists merged into one.
    pub(crate) fn export(&self, mut batch: Vec<SpanData>) -> ExportFuture<'_> {
        batch.iter_mut().for_each(merge_annotation_lists);
        self.inner.export_boxed(batch)
    }

    pub(crate) fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    pub(crate) fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource)
    }
}

/// Annotations added one at a time (`xray_runtime::annotate`) leave several
/// `aws.xray.annotations` lists on a span; collectors read one. Merges them
/// into the last, keeping the first occurrence of each key.
pub(crate) fn merge_annotation_lists(span: &mut SpanData) {
    use opentelemetry::{Array, Value};
    let is_list = |kv: &opentelemetry::KeyValue| kv.key.as_str() == ANNOTATIONS_KEY;
    if span.attributes.iter().filter(|kv| is_list(kv)).count() < 2 {
        return;
    }
    let mut keys: Vec<opentelemetry::StringValue> = Vec::new();
    for kv in span.attributes.iter().filter(|kv| is_list(kv)) {
        if let Value::Array(Array::String(list)) = &kv.value {
            for key in list {
                if !keys.contains(key) {
                    keys.push(key.clone());
                }
            }
        }
    }
    span.attributes.retain(|kv| !is_list(kv));
    span.attributes.push(opentelemetry::KeyValue::new(
        ANNOTATIONS_KEY,
        Value::Array(Array::String(keys)),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{
        SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
    };
    use opentelemetry::{Array, InstrumentationScope, KeyValue, Value};
    use std::time::SystemTime;

    fn span(attributes: Vec<KeyValue>) -> SpanData {
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(1u128),
                SpanId::from(1u64),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: "s".into(),
            start_time: SystemTime::now(),
            end_time: SystemTime::now(),
            attributes,
            dropped_attributes_count: 0,
            events: Default::default(),
            links: Default::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::builder("t").build(),
        }
    }

    #[test]
    fn annotation_lists_are_merged() {
        let list = |keys: &[&str]| {
            KeyValue::new(
                ANNOTATIONS_KEY,
                Value::Array(Array::String(
                    keys.iter().map(|k| k.to_string().into()).collect(),
                )),
            )
        };
        let mut data = span(vec![
            list(&["a", "b"]),
            KeyValue::new("x", 1),
            list(&["b", "c"]),
        ]);
        merge_annotation_lists(&mut data);
        assert_eq!(
            data.attributes,
            vec![KeyValue::new("x", 1), list(&["a", "b", "c"])]
        );
    }
}
