#!/usr/bin/env bash
# The export path over OTLP, xray next to the raw OpenTelemetry SDK
# (BatchSpanProcessor + opentelemetry-otlp, default settings) in one run,
# into counting OTLP receivers run by the driver: CPU per exported span at
# a fixed rate, the highest loss-free rate (one producer thread), idle CPU,
# and flushing a million pending spans; OTLP/HTTP and OTLP/gRPC, receivers
# with Nagle's algorithm on and with TCP_NODELAY; the loss-free rate is
# the median of 3 bisections per series. About 12 minutes. One
# command:
#
#   bash tests/bench/throughput.sh [options]
#
# Options (see src/bin/throughput.rs): --contenders xray,sdk
# --protocols http,grpc --receivers nagle,nodelay --cpu-rate 50000
# --cpu-secs 4 --step-secs 3 --bisect 5 --rounds 3 --idle-secs 10
# --flush-spans 1000000 --flush-protocols http
# --skip baseline,cpu,bisect,idle,flush --budget-secs 900; and the secure
# path: --gzip, --tls (receivers speak TLS with a certificate generated for
# the run), --sigv4 (OTLP/HTTP requests signed). --tls and --sigv4 build the
# binary with the `secure` feature (rustls, aws-sigv4); the plain run links
# neither. --instructions adds instructions per exported span under
# callgrind (valgrind must be installed).
#
# Builds the `throughput` binary (bench profile) and runs it. Results:
# stdout and <target>/xray-bench/export-{steps,idle,flush,run,instr}.tsv
# (export-<options>-*.tsv for a secure run, e.g. export-gzip+tls-steps.tsv),
# which tests/bench/report.py turns into the "Export path" and "secure
# path" sections of BENCHMARKS.md. A run writes only what it measured.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
workspace="$(cd "${here}/../.." && pwd)"
cd "${workspace}"

features=()
for arg in "$@"; do
    case "${arg}" in
        --tls | --sigv4) features=(--features secure) ;;
    esac
done
target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
cargo build --profile bench -p xray-bench --bin throughput ${features[@]+"${features[@]}"} -j "${CARGO_BUILD_JOBS:-2}"
CARGO_TARGET_DIR="${target}" "${target}/release/throughput" "$@"
