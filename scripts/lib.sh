# Shared helpers for scripts/*.sh. Source it; it sets no shell options itself.
# Variables here are used by the scripts that source this file.
# shellcheck shell=bash disable=SC2034

# Build outputs live outside the repo so clean clones and `git clean` don't pay the 6-minute build again.
CACHE=${KUBE_OPERATOR_CACHE:-$HOME/.cache/kube-operator}
BIN=$CACHE/bin
K8S_VERSION=1.20.2
K8S_DIR=$CACHE/k8s-$K8S_VERSION
K8S_GOPATH=$K8S_DIR/gopath
K8S_TREE=$K8S_GOPATH/src/k8s.io/kubernetes

SCRIPT_NAME=$(basename "$0" .sh)
_T0=$SECONDS

log() { printf '[%s %3ds] %s\n' "$SCRIPT_NAME" $((SECONDS - _T0)) "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "$SCRIPT_NAME" "$*" >&2; exit 1; }

# Go environment for building inside the Kubernetes tree: GOPATH mode (module mode needs the
# network), static binaries, build cache kept next to the tree so reruns are incremental.
k8s_go_env() {
  export GOPATH=$K8S_GOPATH GO111MODULE=off GOFLAGS='' GOPROXY=off CGO_ENABLED=0
  export GOCACHE=$CACHE/go-build
}

# True while process $1 runs. kill -0 alone would also count an unreaped zombie (the daemons
# are reparented to whatever PID 1 is, which may not reap).
alive() { kill -0 "$1" 2>/dev/null && [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]; }
# True while the process recorded in pid file $1 runs.
pid_alive() { [[ -f $1 ]] && alive "$(cat "$1")"; }
