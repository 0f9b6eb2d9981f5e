"""OTLP export requests (protobuf) to plain JSON-ready values for the records.

Ids become lower-case hex ("" when absent), AnyValues become Python values
(bytes as hex), timestamps stay integers in nanoseconds.
"""

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2


def any_value(value):
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind)


def attributes(key_values):
    return {kv.key: any_value(kv.value) for kv in key_values}


def traces(request):
    resources, spans = [], []
    for resource_spans in request.resource_spans:
        resources.append(attributes(resource_spans.resource.attributes))
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(_span(span, scope_spans.scope.name))
    return {**_resources(resources), "spans": spans}


def _span(span, scope):
    return {
        "trace_id": span.trace_id.hex(),
        "span_id": span.span_id.hex(),
        "parent_span_id": span.parent_span_id.hex(),
        "trace_state": span.trace_state,
        "flags": span.flags,
        "name": span.name,
        "kind": span.kind,
        "start_ns": span.start_time_unix_nano,
        "end_ns": span.end_time_unix_nano,
        "attributes": attributes(span.attributes),
        "status": {"code": span.status.code, "message": span.status.message},
        "events": [
            {"name": event.name, "time_ns": event.time_unix_nano, "attributes": attributes(event.attributes)}
            for event in span.events
        ],
        "links": [
            {
                "trace_id": link.trace_id.hex(),
                "span_id": link.span_id.hex(),
                "trace_state": link.trace_state,
                "attributes": attributes(link.attributes),
            }
            for link in span.links
        ],
        "scope": scope,
    }


def logs(request):
    resources, records = [], []
    for resource_logs in request.resource_logs:
        resource = attributes(resource_logs.resource.attributes)
        resources.append(resource)
        for scope_logs in resource_logs.scope_logs:
            for log in scope_logs.log_records:
                records.append(
                    {
                        "time_ns": log.time_unix_nano,
                        "observed_time_ns": log.observed_time_unix_nano,
                        "trace_id": log.trace_id.hex(),
                        "span_id": log.span_id.hex(),
                        "flags": log.flags,
                        "severity_number": log.severity_number,
                        "severity_text": log.severity_text,
                        "event_name": log.event_name,
                        "body": any_value(log.body),
                        "attributes": attributes(log.attributes),
                        "resource_attributes": resource,
                        "scope": scope_logs.scope.name,
                    }
                )
    return {**_resources(resources), "logs": records}


def metrics(request):
    resources, entries = [], []
    for resource_metrics in request.resource_metrics:
        resources.append(attributes(resource_metrics.resource.attributes))
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                entries.append(_metric(metric, scope_metrics.scope.name))
    return {**_resources(resources), "metrics": entries}


def _metric(metric, scope):
    kind = metric.WhichOneof("data")
    entry = {
        "name": metric.name,
        "description": metric.description,
        "unit": metric.unit,
        "type": kind,
        "scope": scope,
        "data_points": [],
    }
    if kind is None:
        return entry
    data = getattr(metric, kind)
    if kind in ("sum", "histogram", "exponential_histogram"):
        entry["aggregation_temporality"] = data.aggregation_temporality
    if kind == "sum":
        entry["is_monotonic"] = data.is_monotonic
    entry["data_points"] = [_data_point(kind, point) for point in data.data_points]
    return entry


def _data_point(kind, point):
    fields = {
        "attributes": attributes(point.attributes),
        "start_ns": point.start_time_unix_nano,
        "time_ns": point.time_unix_nano,
    }
    if kind in ("gauge", "sum"):
        fields["value"] = _number(point)
    else:
        fields["count"] = point.count
        fields["sum"] = point.sum if kind == "summary" or point.HasField("sum") else None
    if kind == "histogram":
        fields["bucket_counts"] = list(point.bucket_counts)
        fields["explicit_bounds"] = list(point.explicit_bounds)
    if kind == "exponential_histogram":
        fields["scale"] = point.scale
        fields["zero_count"] = point.zero_count
        fields["positive"] = {"offset": point.positive.offset, "bucket_counts": list(point.positive.bucket_counts)}
        fields["negative"] = {"offset": point.negative.offset, "bucket_counts": list(point.negative.bucket_counts)}
    if kind in ("histogram", "exponential_histogram"):
        fields["min"] = point.min if point.HasField("min") else None
        fields["max"] = point.max if point.HasField("max") else None
    if kind == "summary":
        fields["quantile_values"] = [{"quantile": q.quantile, "value": q.value} for q in point.quantile_values]
    else:
        fields["exemplars"] = [
            {
                "trace_id": exemplar.trace_id.hex(),
                "span_id": exemplar.span_id.hex(),
                "time_ns": exemplar.time_unix_nano,
                "value": _number(exemplar),
                "filtered_attributes": attributes(exemplar.filtered_attributes),
            }
            for exemplar in point.exemplars
        ]
    return fields


def _number(message):
    kind = message.WhichOneof("value")
    return getattr(message, kind) if kind else None


def _resources(resources):
    """`resource_attributes`: the first (usually only) resource of the request;
    `resources`: all of them, in order."""
    return {"resource_attributes": resources[0] if resources else {}, "resources": resources}


# OTLP/HTTP path -> (request class, response class, request -> record fields)
SIGNALS = {
    "/v1/traces": (
        trace_service_pb2.ExportTraceServiceRequest,
        trace_service_pb2.ExportTraceServiceResponse,
        traces,
    ),
    "/v1/logs": (
        logs_service_pb2.ExportLogsServiceRequest,
        logs_service_pb2.ExportLogsServiceResponse,
        logs,
    ),
    "/v1/metrics": (
        metrics_service_pb2.ExportMetricsServiceRequest,
        metrics_service_pb2.ExportMetricsServiceResponse,
        metrics,
    ),
}
