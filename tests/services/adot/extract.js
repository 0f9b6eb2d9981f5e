// Reads X-Amzn-Trace-Id values, one per line, and prints what the JavaScript
// X-Ray propagator (ADOT) extracts from each: `valid trace_id span_id sampled`,
// or `invalid`. Run with NODE_PATH pointing at the installed node_modules.
const api = require('@opentelemetry/api');
const { AWSXRayPropagator } = require('@opentelemetry/propagator-aws-xray');

const propagator = new AWSXRayPropagator();
const input = require('fs').readFileSync(0, 'utf8');
for (const value of input.split('\n').filter((line) => line.length > 0)) {
  const context = propagator.extract(
    api.ROOT_CONTEXT,
    { 'x-amzn-trace-id': value },
    api.defaultTextMapGetter,
  );
  const spanContext = api.trace.getSpanContext(context);
  if (spanContext && api.isSpanContextValid(spanContext)) {
    console.log(`valid ${spanContext.traceId} ${spanContext.spanId} ${spanContext.traceFlags & 1}`);
  } else {
    console.log('invalid');
  }
}
