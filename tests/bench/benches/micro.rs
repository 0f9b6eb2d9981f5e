//! Plain call, X-Ray ids, header parse/format, propagators and exporters:
//! no global state.

use std::hint::black_box;

use criterion::BatchSize;
use opentelemetry::trace::TraceContextExt;
use xray_bench::micro;
use xray_runtime::propagation::XrayPropagator;

mod common;

fn main() {
    let mut c = common::criterion();

    common::bench(&mut c, "plain", xray_bench::plain);
    common::bench(&mut c, "plain_nested", xray_bench::plain_nested);

    common::bench(&mut c, "id_xray", |_| {
        micro::xray_trace_id().to_bytes()[15].into()
    });
    common::bench(&mut c, "id_aws", |_| {
        micro::aws_trace_id().to_bytes()[15].into()
    });
    common::bench(&mut c, "id_sdk_random", |_| {
        micro::sdk_trace_id().to_bytes()[15].into()
    });

    let header = micro::HEADER;
    common::bench(&mut c, "parse_xray", |_| {
        u64::from(micro::xray_parse(black_box(header)).is_some())
    });
    common::bench(&mut c, "parse_aws", |_| {
        u64::from(micro::aws_parse(black_box(header)).is_some())
    });
    let parsed = micro::parsed_header();
    common::bench(&mut c, "format_xray", |_| {
        micro::xray_format(black_box(&parsed)).len() as u64
    });
    let span_context = micro::header_span_context();
    common::bench(&mut c, "format_aws", |_| {
        micro::aws_format(black_box(&span_context)).map_or(0, |s| s.len() as u64)
    });

    let carrier = micro::carrier();
    let xray = XrayPropagator::new();
    let aws = opentelemetry_aws::trace::XrayPropagator::default();
    common::bench(&mut c, "extract_xray", |_| {
        u64::from(micro::xray_extract(&xray, black_box(&carrier)).has_active_span())
    });
    common::bench(&mut c, "extract_aws", |_| {
        u64::from(micro::aws_extract(&aws, black_box(&carrier)).has_active_span())
    });
    let cx = micro::context();
    let mut out = std::collections::HashMap::new();
    common::bench(&mut c, "inject_xray", |_| {
        micro::xray_inject(&xray, black_box(&cx), &mut out);
        out.len() as u64
    });
    common::bench(&mut c, "inject_aws", |_| {
        micro::aws_inject(&aws, black_box(&cx), &mut out);
        out.len() as u64
    });

    // Per batch of micro::BATCH_SPANS spans; the report divides.
    let batch = micro::batch(0);
    let console = micro::console_exporter();
    c.bench_function("console_batch", |b| {
        b.iter_batched(
            || batch.clone(),
            |spans| micro::export(&console, spans),
            BatchSize::SmallInput,
        )
    });
    let json = micro::json_exporter();
    c.bench_function("json_batch", |b| {
        b.iter_batched(
            || batch.clone(),
            |spans| micro::export(&json, spans),
            BatchSize::SmallInput,
        )
    });

    c.final_summary();
}
