#!/usr/bin/env bash
# Instructions, clock reads and allocations per call of every benchmark
# configuration, counted under callgrind (exact and repeatable, unlike the
# wall clock on a noisy machine). One command:
#
#   bash tests/bench/callgrind.sh                      # all configurations (~3 min)
#   bash tests/bench/callgrind.sh xray_sampled otel_sampled:200000
#
# Builds the probe (bench profile: optimized, with line debug info), then
# runs tests/bench/cg.py: each configuration under
# `valgrind --tool=callgrind --separate-threads=yes` with N=0 and N calls,
# reporting (I(N) - I(0)) / N. Results: stdout and
# <target>/xray-bench/callgrind.tsv; dumps in <target>/xray-bench/callgrind/.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
workspace="$(cd "${here}/../.." && pwd)"
cd "${workspace}"

command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
cargo build --profile bench -p xray-bench --bin probe -j "${CARGO_BUILD_JOBS:-2}"
python3 "${here}/cg.py" "${target}/release/probe" "${target}" "$@"
