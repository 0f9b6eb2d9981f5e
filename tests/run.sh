#!/usr/bin/env bash
# Runs every test of the workspace: unit tests and doctests, the span-tree
# and compile (trybuild) tests, the real-process exit and stress tests, the
# end-to-end tests through a real OpenTelemetry collector (rotel, installed
# from PyPI into target/tools on first run), the secure export tests
# against Python peers (botocore, installed from PyPI the same way), and the
# logs and metrics tests (tests/signals: log lines in real processes, OTLP
# logs and metrics through rotel and to a CloudWatch Logs-like receiver
# checked with botocore), all members of the workspace.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The interoperability test reads our headers with the ADOT propagators of
# Python and JavaScript: it needs Node.js and npm (installed here from the
# distribution's packages when missing and we may).
if ! command -v npm >/dev/null 2>&1; then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo "installing Node.js and npm (apt) for the ADOT interoperability test"
        apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
    else
        echo "tests/run.sh: Node.js and npm are needed (for the ADOT interoperability test); install them first" >&2
        exit 1
    fi
fi
bash tests/collector/install-rotel.sh
# The Python peers of the secure export tests (an OTLP receiver checking
# SigV4 with botocore, instance and container metadata), from PyPI.
bash tests/peers/install.sh
# The tests never ask this machine's own instance metadata (resource
# detection would on an EC2 host); the tests of detection point it at a peer.
export AWS_EC2_METADATA_DISABLED=true
cargo test --workspace "$@"
cargo test -p xray-macros --features disabled "$@"   # tracing compiled out: items come back unchanged
cargo test -p xray-bench --lib "$@"                  # the benchmarks' counting OTLP receiver
