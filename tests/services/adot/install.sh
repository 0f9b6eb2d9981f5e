#!/usr/bin/env bash
# Installs the X-Ray propagators of the OpenTelemetry SDKs that ADOT ships for
# Python (PyPI `opentelemetry-propagator-aws-xray`) and JavaScript (npm
# `@opentelemetry/propagator-aws-xray`) under the cargo target directory, for
# the interoperability test (tests/services/adot.rs).
#
# Idempotent: with the pinned versions installed it only prints where they are:
#   PYTHON=<python of the virtualenv>
#   NODE_MODULES=<directory holding node_modules>
set -euo pipefail

PY_PROPAGATOR="opentelemetry-propagator-aws-xray==1.0.2"
JS_PROPAGATOR="@opentelemetry/propagator-aws-xray@3.0.0"
JS_API="@opentelemetry/api@1.10.0"

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
workspace="$(cd "${script_dir}/../../.." && pwd)"
target="${CARGO_TARGET_DIR:-${workspace}/target}"
tools="${target}/tools"
venv="${tools}/adot-venv"
js="${tools}/adot-js"
mkdir -p "${tools}" "${js}"

quietly() {
    local log
    log="$(mktemp)"
    if ! "$@" >"${log}" 2>&1; then
        cat "${log}" >&2
        rm -f "${log}"
        echo "install.sh: '$*' failed" >&2
        exit 1
    fi
    rm -f "${log}"
}

if [[ ! -x "${venv}/bin/python" ]]; then
    quietly python3 -m venv "${venv}"
fi
installed="$("${venv}/bin/python" -c \
    'import importlib.metadata as m; print(m.version("opentelemetry-propagator-aws-xray"))' \
    2>/dev/null || true)"
if [[ "${installed}" != "${PY_PROPAGATOR##*==}" ]]; then
    quietly "${venv}/bin/python" -m pip install --disable-pip-version-check "${PY_PROPAGATOR}"
fi

marker="${js}/.installed"
if [[ "$(cat "${marker}" 2>/dev/null)" != "${JS_PROPAGATOR} ${JS_API}" ]]; then
    (cd "${js}" && quietly npm install --no-audit --no-fund --no-save "${JS_PROPAGATOR}" "${JS_API}")
    echo "${JS_PROPAGATOR} ${JS_API}" >"${marker}"
fi

echo "PYTHON=${venv}/bin/python"
echo "NODE_MODULES=${js}"
