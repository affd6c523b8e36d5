#!/usr/bin/env bash
# Checks the Helm chart deploy/kube-operator: its crds/ is identical to the repository's crds/,
# its appVersion is meson.build's project version, `helm lint --strict`, `helm template` with the default values and with replicas=1 +
# ServiceMonitor (and on Kubernetes 1.20), and the values schema rejects a bad value. When the
# local control plane answers, the rendered objects and the CRD also go through
# `kubectl apply --dry-run=server` (nothing is created). One line per check; exit 1 if any failed.
#
# Usage: scripts/helm-check.sh
# Env:   KUBE_OPERATOR_CACHE (helm, kubectl), HELM_CHECK_KUBECONFIG
#        (default /tmp/kube-operator-cluster/kubeconfig; "none" skips the server checks)
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
. "$REPO/scripts/lib.sh"

HELM=$BIN/helm
KUBECTL=$BIN/kubectl
CHART=$REPO/deploy/kube-operator
KCFG=${HELM_CHECK_KUBECONFIG:-/tmp/kube-operator-cluster/kubeconfig}
for b in "$HELM" "$KUBECTL"; do [[ -x $b ]] || die "$b missing"; done

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failed=0
n=0
# check NAME CMD...: run CMD; "ok NAME", or "FAIL NAME" and CMD's output.
check() {
  local name=$1; shift
  n=$((n + 1))
  if "$@" >"$TMP/out" 2>&1; then
    echo "ok   $name"
  else
    echo "FAIL $name"
    sed 's/^/     /' "$TMP/out" | tail -n 40
    failed=$((failed + 1))
  fi
}
# render FILE ARGS...: helm template into FILE.
render() { local f=$1; shift; "$HELM" template kube-operator "$CHART" --namespace default "$@" >"$f"; }
# has FILE PATTERN...: every (extended regex) PATTERN occurs in FILE.
has() { local f=$1 p; shift; for p; do grep -Eq -- "$p" "$f" || { echo "missing: $p"; return 1; }; done; }
# lacks FILE PATTERN...: no PATTERN occurs in FILE.
lacks() { local f=$1 p; shift; for p; do ! grep -Eq -- "$p" "$f" || { echo "unexpected: $p"; return 1; }; done; }

# The chart's CRD copy must not drift from crds/ (what the tests and the demo apply).
check "crds/ == deploy/kube-operator/crds/" diff -r "$REPO/crds" "$CHART/crds"
check "CRDs as scripts/gen-crds.py writes them" python3 "$REPO/scripts/gen-crds.py" --check

# The operator's version is written once, in meson.build's project(); Helm cannot read it, so
# the chart's appVersion (the default image tag) is held to it here.
app_version_ok() {
  local want have
  want=$(meson introspect --projectinfo "$REPO/meson.build" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])') || return 1
  have=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' "$CHART/Chart.yaml")
  [[ -n $want && $have == "$want" ]] ||
    { echo "Chart.yaml appVersion \"$have\" != meson.build project version \"$want\""; return 1; }
}
check "Chart.yaml appVersion == meson.build version" app_version_ok

check "helm lint --strict" "$HELM" lint --strict "$CHART"
check "helm lint --strict (replicas=1, serviceMonitor)" \
  "$HELM" lint --strict "$CHART" --set replicaCount=1 --set serviceMonitor.enabled=true

default_ok() {
  render "$TMP/default.yaml" &&
    has "$TMP/default.yaml" '^kind: Deployment$' '^  replicas: 2$' '^kind: ClusterRole$' \
      '^kind: ClusterRoleBinding$' '^kind: Role$' '^kind: ServiceAccount$' '^kind: Service$' \
      '^kind: PodDisruptionBudget$' '"--leader-elect=true"' '"--leader-election-namespace=default"' \
      '"--metrics-bind-address=:8080"' '"--health-probe-bind-address=:8081"' 'name: http-metrics' \
      'path: /healthz' 'path: /readyz' 'readOnlyRootFilesystem: true' &&
    lacks "$TMP/default.yaml" '^kind: ServiceMonitor$' 'kind: CustomResourceDefinition'
}
check "helm template (defaults)" default_ok

single_ok() {
  render "$TMP/single.yaml" --set replicaCount=1 --set serviceMonitor.enabled=true &&
    has "$TMP/single.yaml" '^  replicas: 1$' '^kind: ServiceMonitor$' '"--leader-elect=false"' \
      'type: Recreate' &&
    lacks "$TMP/single.yaml" '^kind: PodDisruptionBudget$' '^kind: Role$'
}
check "helm template (replicas=1, serviceMonitor)" single_ok

# Kubernetes 1.20 (the oldest supported, and the local control plane): policy/v1beta1 PDB.
old_ok() {
  render "$TMP/old.yaml" --kube-version 1.20.2 && has "$TMP/old.yaml" '^apiVersion: policy/v1beta1$'
}
check "helm template (kube 1.20)" old_ok

# The schema is in force: a wrong enum value is refused.
schema_ok() {
  if render "$TMP/bad.yaml" --set operator.logLevel=verbose 2>"$TMP/err"; then echo "accepted"; return 1; fi
  grep -q '/operator/logLevel' "$TMP/err" || { cat "$TMP/err"; return 1; }
}
check "values schema rejects logLevel=verbose" schema_ok

# --- server-side dry run against the local control plane, when it is up ------------------------
if [[ $KCFG != none && -f $KCFG ]] && "$KUBECTL" --kubeconfig "$KCFG" --request-timeout=5s get --raw /version >"$TMP/version" 2>/dev/null; then
  K=("$KUBECTL" --kubeconfig "$KCFG")
  ver=$(sed -n 's/.*"gitVersion": *"v\{0,1\}\([^"]*\)".*/\1/p' "$TMP/version")
  # Validated by the API server (schema, admission), never persisted.
  check "CRD: kubectl apply --dry-run=server" "${K[@]}" apply --dry-run=server -f "$CHART/crds/"
  server_ok() {
    render "$TMP/server.yaml" --kube-version "$ver" && "${K[@]}" apply --dry-run=server -f "$TMP/server.yaml"
  }
  check "helm template | kubectl apply --dry-run=server (kube $ver)" server_ok
  if "${K[@]}" get crd servicemonitors.monitoring.coreos.com >/dev/null 2>&1; then
    sm_ok() {
      render "$TMP/sm.yaml" --kube-version "$ver" --set replicaCount=1 --set serviceMonitor.enabled=true &&
        "${K[@]}" apply --dry-run=server -f "$TMP/sm.yaml"
    }
    check "helm template (replicas=1, serviceMonitor) | kubectl apply --dry-run=server" sm_ok
  else
    echo "skip ServiceMonitor dry run: no monitoring.coreos.com CRD on the cluster"
  fi
else
  echo "skip server dry run: no control plane at $KCFG (scripts/cluster-up.sh starts one)"
fi

echo "$((n - failed)) passed, $failed failed"
((failed == 0))
