# Shared helpers for scripts/*.sh. Source it; it sets no shell options itself.
# Variables here are used by the scripts that source this file.
# shellcheck shell=bash disable=SC2034

# Build outputs live outside the repo so clean clones and `git clean` don't pay the Kubernetes build again.
CACHE=${KUBE_OPERATOR_CACHE:-$HOME/.cache/kube-operator}
# The Kubernetes releases the tests run on (docs/development.md, "Kubernetes versions"): the
# default lane is the newest, the second the oldest the README says is supported. Each has a
# Go module under tools/kubernetes/<minor>/ that pins it.
KUBE_DEFAULT_VERSION=1.37
KUBE_MIN_VERSION=1.35
KUBE_VERSION=${KUBE_VERSION:-$KUBE_DEFAULT_VERSION}
# kube-apiserver, kube-controller-manager, kubectl and etcd of one release.
BIN=$CACHE/k8s-$KUBE_VERSION/bin
# helm and kubelet-sim: one build serves every release.
TOOLS_BIN=$CACHE/bin

SCRIPT_NAME=$(basename "$0" .sh)
_T0=$SECONDS

log() { printf '[%s %3ds] %s\n' "$SCRIPT_NAME" $((SECONDS - _T0)) "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "$SCRIPT_NAME" "$*" >&2; exit 1; }

# Go in module mode through the module proxy; the build cache next to the binaries.
go_env() {
  export PATH=/usr/local/go/bin:$PATH GO111MODULE=on GOFLAGS=-buildvcs=false CGO_ENABLED=0
  export GOCACHE=$CACHE/go-build
}

# True while process $1 runs. kill -0 alone would also count an unreaped zombie (the daemons
# are reparented to whatever PID 1 is, which may not reap).
alive() { kill -0 "$1" 2>/dev/null && [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]; }
# True while the process recorded in pid file $1 runs.
pid_alive() { [[ -f $1 ]] && alive "$(cat "$1")"; }
