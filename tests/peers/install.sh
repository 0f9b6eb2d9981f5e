#!/usr/bin/env bash
# Installs the Python packages of the test peers (tests/peers/requirements.txt)
# into a virtualenv under the cargo target directory:
#   ${CARGO_TARGET_DIR:-<workspace>/target}/tools/peers-venv
#
# Idempotent and quiet: the venv keeps the sha256 of the requirements it was
# built from, and is rebuilt from scratch only when requirements.txt changes
# (so no package dropped from the list lingers). pip's log is printed only
# when pip fails. Concurrent runs (parallel test binaries) wait for each other.
#
# Prints one line on success:
#   peers-python: <path to the venv's python>
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
workspace="$(cd "${script_dir}/../.." && pwd)"
target="${CARGO_TARGET_DIR:-${workspace}/target}"
tools="${target}/tools"
venv="${tools}/peers-venv"
python="${venv}/bin/python"
requirements="${script_dir}/requirements.txt"
stamp="${venv}/requirements.sha256"

mkdir -p "${tools}"
exec 9>"${tools}/peers-venv.lock"
flock 9

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

wanted="$(sha256sum "${requirements}" | cut -d' ' -f1)"
if [[ ! -x "${python}" || "$(cat "${stamp}" 2>/dev/null || true)" != "${wanted}" ]]; then
    rm -rf "${venv}"
    quietly python3 -m venv "${venv}"
    quietly "${python}" -m pip install --disable-pip-version-check --no-input \
        --requirement "${requirements}"
    echo "${wanted}" >"${stamp}"
fi

echo "peers-python: ${python}"
