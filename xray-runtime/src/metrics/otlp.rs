//! Metrics as OTLP (`ExportMetricsServiceRequest`): explicit-bucket
//! histograms in seconds, with their exemplars, for the metrics' OTLP
//! exporter.

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::InstrumentationScope;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope as ProtoScope;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Exemplar, Histogram, HistogramDataPoint, Metric, ResourceMetrics,
    ScopeMetrics, exemplar, metric,
};
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::transform::common::tonic::Attributes;
use opentelemetry_sdk::Resource;
use prost::Message;

use super::histogram::BOUNDARIES;
use super::pipeline::{Collection, Point, Temporality};
use crate::signals::otlp::{Encode, proto_resource};

/// Builds requests for one resource and scope.
pub(crate) struct Encoder {
    resource: ProtoResource,
    schema_url: String,
    scope: ProtoScope,
}

fn unix_nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

impl Encoder {
    pub(crate) fn new(resource: &Resource, scope: &InstrumentationScope) -> Self {
        let (resource, schema_url) = proto_resource(resource);
        Self {
            resource,
            schema_url,
            scope: ProtoScope::from((scope, None)),
        }
    }

    pub(crate) fn request(&self, collection: &Collection) -> ExportMetricsServiceRequest {
        let temporality = match collection.temporality {
            Temporality::Cumulative => AggregationTemporality::Cumulative,
            Temporality::Delta => AggregationTemporality::Delta,
        } as i32;
        let metrics = collection
            .metrics
            .iter()
            .map(|data| Metric {
                name: data.instrument.name.to_string(),
                description: data.instrument.description.to_string(),
                unit: "s".to_string(),
                data: Some(metric::Data::Histogram(Histogram {
                    data_points: data
                        .points
                        .iter()
                        .map(|point| data_point(point, collection))
                        .collect(),
                    aggregation_temporality: temporality,
                })),
                ..Metric::default()
            })
            .collect();
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(self.resource.clone()),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(self.scope.clone()),
                    metrics,
                    schema_url: String::new(),
                }],
                schema_url: self.schema_url.clone(),
            }],
        }
    }
}

fn data_point(point: &Point, collection: &Collection) -> HistogramDataPoint {
    let seconds = |ticks: u64| collection.converter.seconds(ticks);
    let recorded = &point.recorded;
    HistogramDataPoint {
        attributes: Attributes::from(point.series.attributes.clone()).0,
        start_time_unix_nano: unix_nanos(point.start),
        time_unix_nano: unix_nanos(collection.time),
        count: recorded.count(),
        sum: Some(seconds(recorded.sum)),
        bucket_counts: recorded.counts.to_vec(),
        explicit_bounds: BOUNDARIES.to_vec(),
        exemplars: recorded
            .exemplars
            .iter()
            .map(|example| Exemplar {
                time_unix_nano: collection.converter.unix_nanos(example.at),
                span_id: example.span_id.to_be_bytes().to_vec(),
                trace_id: example.trace_id.to_be_bytes().to_vec(),
                value: Some(exemplar::Value::AsDouble(seconds(example.ticks))),
                ..Exemplar::default()
            })
            .collect(),
        min: recorded.min.map(seconds),
        max: recorded.max.map(seconds),
        ..HistogramDataPoint::default()
    }
}

impl Encode<Collection> for Encoder {
    fn encode(&self, collection: &Collection) -> Vec<u8> {
        self.request(collection).encode_to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Converter;
    use crate::metrics::histogram::{Context, Series};
    use crate::metrics::instruments::Instrument;
    use crate::metrics::pipeline::MetricData;
    use opentelemetry::KeyValue;
    use std::sync::Arc;

    #[test]
    fn a_histogram_point_in_seconds_with_its_exemplar() {
        static TEST: Instrument = Instrument::new("test.duration", "A test.");
        let converter = Converter::now();
        crate::metrics::histogram::update_bounds(&converter);
        let series = Arc::new(Series::new(vec![KeyValue::new("xray.outcome", "ok")]));
        let ticks = converter.ticks_in(0.02);
        series.record(
            ticks,
            ticks * 10,
            Some(Context {
                trace_id: 0x5759e988_bd862e3fe1be46a994272793,
                span_id: 0x53995c3f42cd8ad8,
                sampled: true,
            }),
        );
        let collection = Collection {
            metrics: vec![MetricData {
                instrument: &TEST,
                points: vec![Point {
                    recorded: series.take(),
                    series,
                    start: UNIX_EPOCH,
                }],
            }],
            temporality: Temporality::Cumulative,
            time: SystemTime::now(),
            converter,
        };
        let resource = Resource::builder_empty().with_service_name("shop").build();
        let scope = InstrumentationScope::builder("xray").build();
        let request = Encoder::new(&resource, &scope).request(&collection);
        let metric = &request.resource_metrics[0].scope_metrics[0].metrics[0];
        assert_eq!(
            (metric.name.as_str(), metric.unit.as_str()),
            ("test.duration", "s")
        );
        let Some(metric::Data::Histogram(histogram)) = &metric.data else {
            panic!("a histogram: {metric:?}");
        };
        assert_eq!(
            histogram.aggregation_temporality,
            AggregationTemporality::Cumulative as i32
        );
        let point = &histogram.data_points[0];
        assert_eq!(point.count, 1);
        assert_eq!(point.bucket_counts.len(), point.explicit_bounds.len() + 1);
        assert_eq!(point.bucket_counts[2], 1, "0.02 s is in (0.01, 0.025]");
        let sum = point.sum.expect("a sum");
        assert!((sum - 0.02).abs() < 1e-6, "{sum}");
        let example = &point.exemplars[0];
        assert_eq!(
            example.trace_id,
            0x5759e988_bd862e3fe1be46a994272793u128.to_be_bytes()
        );
        assert_eq!(example.span_id, 0x53995c3f42cd8ad8u64.to_be_bytes());
        assert!(
            matches!(example.value, Some(exemplar::Value::AsDouble(v)) if (v - 0.02).abs() < 1e-6)
        );
    }
}
