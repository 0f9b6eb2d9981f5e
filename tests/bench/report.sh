#!/usr/bin/env bash
# Regenerates the results section of BENCHMARKS.md from the last runs of
#   cargo bench -p xray-bench          (criterion medians)
#   bash tests/bench/callgrind.sh      (instructions, clock reads, allocations)
#   bash tests/bench/throughput.sh     (the OTLP export path, xray and the raw SDK)
# Options are passed to report.py (--label TEXT, --stdout, --target DIR).
#
#   bash tests/bench/report.sh --all   # runs the three first, then reports (~30 min)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "${here}/../.."
if [[ "${1:-}" == "--all" ]]; then
    shift
    target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
    rm -f "${target}/xray-bench/exported.tsv"
    cargo bench -p xray-bench -j "${CARGO_BUILD_JOBS:-2}"
    bash "${here}/callgrind.sh"
    bash "${here}/throughput.sh"
fi
python3 "${here}/report.py" "$@"
