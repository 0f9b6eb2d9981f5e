#!/usr/bin/env bash
# Installs the rotel OpenTelemetry collector (PyPI package `rotel`) into a
# virtualenv under the cargo target directory and links its agent binary to
# `<target>/tools/rotel-agent`, where the collector end-to-end test looks for it.
#
# Idempotent: a second run with the pinned version already installed only
# refreshes the symlink. Prints one line naming the binary on success.
set -euo pipefail

ROTEL_VERSION="0.0.1a15"

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
workspace="$(cd "${script_dir}/../.." && pwd)"
target="${CARGO_TARGET_DIR:-${workspace}/target}"
tools="${target}/tools"
venv="${tools}/rotel-venv"
link="${tools}/rotel-agent"
python="${venv}/bin/python"

mkdir -p "${tools}"

installed_version() {
    "${python}" - <<'EOF' 2>/dev/null || true
import importlib.metadata as metadata
try:
    print(metadata.version("rotel"))
except metadata.PackageNotFoundError:
    pass
EOF
}

if [[ ! -x "${python}" ]]; then
    python3 -m venv "${venv}"
fi

if [[ "$(installed_version)" != "${ROTEL_VERSION}" ]]; then
    log="$(mktemp)"
    if ! "${python}" -m pip install --quiet --disable-pip-version-check \
        "rotel==${ROTEL_VERSION}" >"${log}" 2>&1; then
        cat "${log}" >&2
        rm -f "${log}"
        echo "install-rotel.sh: pip install rotel==${ROTEL_VERSION} failed" >&2
        exit 1
    fi
    rm -f "${log}"
fi

package_dir="$("${python}" -c 'import rotel, os; print(os.path.dirname(rotel.__file__))')"
binary="${package_dir}/rotel-agent"
if [[ ! -f "${binary}" ]]; then
    echo "install-rotel.sh: ${binary} not found in the rotel package" >&2
    exit 1
fi
chmod +x "${binary}"
ln -sfn "${binary}" "${link}"

echo "rotel-agent: ${link} -> ${binary}"
