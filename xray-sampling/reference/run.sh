#!/usr/bin/env bash
# Compares this crate's rule choices with the AWS X-Ray SDK for Python,
# installed with the workspace's test peers.
#
#   reference/run.sh                          # compare
#   XRAY_REFERENCE_BLESS=1 reference/run.sh   # compare and rewrite reference/golden/
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
crate="$(dirname "$here")"
bash "$crate/../tests/peers/install.sh" >/dev/null
cd "$crate"
cargo test --test python_reference -- --nocapture
