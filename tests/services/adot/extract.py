"""Reads X-Amzn-Trace-Id values, one per line, and prints what the Python
X-Ray propagator (ADOT) extracts from each: `valid trace_id span_id sampled`,
or `invalid`."""

import sys

from opentelemetry import trace
from opentelemetry.propagators.aws import AwsXRayPropagator

propagator = AwsXRayPropagator()
for line in sys.stdin:
    value = line.rstrip("\n")
    context = propagator.extract({"X-Amzn-Trace-Id": value})
    span_context = trace.get_current_span(context).get_span_context()
    if span_context.is_valid:
        sampled = 1 if span_context.trace_flags.sampled else 0
        print(f"valid {span_context.trace_id:032x} {span_context.span_id:016x} {sampled}")
    else:
        print("invalid")
