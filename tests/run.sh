#!/usr/bin/env bash
# Runs every test of the workspace: unit tests and doctests, the span-tree
# and compile (trybuild) tests, the real-process exit tests, and the
# end-to-end tests through a real OpenTelemetry collector (rotel, installed
# from PyPI into target/tools on first run).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash tests/collector/install-rotel.sh
cargo test --workspace "$@"
cargo test -p xray-macros --features disabled "$@"   # tracing compiled out: items come back unchanged
