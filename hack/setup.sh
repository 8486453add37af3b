#!/usr/bin/env bash
# Make this machine ready for every test tier: `make setup`. Safe to run again; fast when ready.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

# Debian packages: git (projects from git), ca-certificates; the node: containerd, runc, the CNI
# plugins, iproute2 (netns, veth), nftables and iptables (kube-proxy, the pods' way out),
# util-linux (nsenter); the images: podman, buildah, mmdebstrap (Debian base images), skopeo;
# chromium: the headless browser the UI tests drive with Playwright (e2e/test_ui.py), since
# Playwright's own browser download cannot reach its host from here.
DEBIAN_PACKAGES=(
  git ca-certificates util-linux iproute2 iptables nftables
  containerd runc containernetworking-plugins
  podman buildah skopeo mmdebstrap conmon fuse-overlayfs
  chromium
)
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

echo "setup: cluster binaries (built once from Go modules, cached in ~/.cache/mlkube)"
$PYTHON -m e2e.cluster.binaries
echo "setup: mlkube's images (built from Debian packages, cached by content in ~/.cache/mlkube)"
$PYTHON images/build.py
echo "setup: done"
