#!/usr/bin/env bash
# Sustained OTLP export throughput of xray on one producer thread, over
# gRPC and HTTP/protobuf to a real rotel collector (blackhole exporter):
# the producer's maximum rate, the rate where spans start to be lost, and
# peak RSS. Bounded to about a minute. One command:
#
#   bash tests/bench/throughput.sh [--step-secs 3] [--bisect 5] [--protocols grpc,http]
#
# Installs rotel from PyPI into <target>/tools on first use (see
# tests/collector/install-rotel.sh), builds the `throughput` binary
# (bench profile) and runs it. Results: stdout and
# <target>/xray-bench/throughput.tsv.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
workspace="$(cd "${here}/../.." && pwd)"
cd "${workspace}"

if [[ -z "${XRAY_ROTEL_BIN:-}" ]]; then
    bash tests/collector/install-rotel.sh
fi
target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
cargo build --profile bench -p xray-bench --bin throughput -j "${CARGO_BUILD_JOBS:-2}"
"${target}/release/throughput" "$@"
