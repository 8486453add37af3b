#!/usr/bin/env bash
# Make this machine ready for every test tier: `make setup`. Safe to run again; fast when ready.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

# Debian packages: git (projects from git), ca-certificates, util-linux (unshare for pods).
DEBIAN_PACKAGES=(git ca-certificates util-linux)
missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

command -v go >/dev/null || { echo "setup: the Go toolchain is required (go not on PATH)" >&2; exit 1; }

echo "setup: installing mlkube and its dev extras into $($PYTHON -c 'import sys; print(sys.prefix)')"
$PYTHON -m pip install --quiet --disable-pip-version-check -e '.[dev]'

echo "setup: control-plane binaries (built once from Go modules, cached in ~/.cache/mlkube)"
$PYTHON -m e2e.cluster.binaries
echo "setup: done"
