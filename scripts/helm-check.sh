#!/usr/bin/env bash
# Checks the Helm chart deploy/kube-operator: its crds/ is identical to the repository's crds/,
# its appVersion is meson.build's project version, `helm lint --strict`, `helm template` with the default values and with replicas=1 +
# ServiceMonitor (and on Kubernetes 1.35, the oldest supported), with every optional object on and with plain metrics,
# the ValidatingAdmissionPolicies (the operator's on by default, the hierarchy-label one with the web app's identity),
# the RBAC's Secret rule (rbac.secrets), and the values schema rejects a bad value. The PrometheusRule's rules go through `promtool
# check rules` and `promtool test rules` (tests/promtool/), the Grafana dashboard must parse and
# every PromQL expression in it must too (promtool, in a generated rule file). When the
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

HELM=$TOOLS_BIN/helm
# The release's own kubectl when it is built; scripts/test.sh --unit-only has only the npm one.
KUBECTL=$BIN/kubectl
[[ -x $KUBECTL ]] || KUBECTL=$TOOLS_BIN/kubectl
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
      '"--metrics-bind-address=:8443"' '"--metrics-secure=true"' '"--health-probe-bind-address=:8081"' \
      'name: https-metrics' 'name: http-health' 'path: /healthz' 'path: /readyz' \
      'readOnlyRootFilesystem: true' 'resources: \["tokenreviews"\]' \
      'resources: \["subjectaccessreviews"\]' 'name: kube-operator-metrics-reader$' \
      'nonResourceURLs: \["/metrics"\]' 'helm.sh/hook: test' 'name: kube-operator-test-metrics-reader' \
      '^kind: ValidatingAdmissionPolicy$' '^kind: ValidatingAdmissionPolicyBinding$' \
      'name: kube-operator-operator-writes$' "system:serviceaccount:default:kube-operator'" \
      'validationActions: \[Deny\]' 'failurePolicy: Fail' 'resources: \["secrets"\]' &&
    lacks "$TMP/default.yaml" '^kind: ServiceMonitor$' 'kind: CustomResourceDefinition' \
      '^kind: PrometheusRule$' '^kind: NetworkPolicy$' 'grafana_dashboard' '--metrics-cert-dir' \
      'hierarchy-labels' '--metrics-token-audience' 'resources: \["environments/finalizers"\]'
}
check "helm template (defaults)" default_ok

single_ok() {
  render "$TMP/single.yaml" --set replicaCount=1 --set serviceMonitor.enabled=true &&
    has "$TMP/single.yaml" '^  replicas: 1$' '^kind: ServiceMonitor$' '"--leader-elect=false"' \
      'type: Recreate' &&
    lacks "$TMP/single.yaml" '^kind: PodDisruptionBudget$' '^kind: Role$'
}
check "helm template (replicas=1, serviceMonitor)" single_ok

# Every optional object, and a certificate Secret for the metrics endpoint.
ALL=(--set serviceMonitor.enabled=true --set prometheusRule.enabled=true
  --set grafanaDashboard.enabled=true --set networkPolicy.enabled=true
  --set metrics.certSecret=kube-operator-metrics-cert)
check "helm lint --strict (every optional object)" "$HELM" lint --strict "$CHART" "${ALL[@]}"
all_ok() {
  render "$TMP/all.yaml" "${ALL[@]}" &&
    has "$TMP/all.yaml" '^kind: ServiceMonitor$' '^kind: PrometheusRule$' '^kind: NetworkPolicy$' \
      'grafana_dashboard: "1"' 'scheme: https' 'insecureSkipVerify: true' 'bearerTokenFile: ' \
      '"--metrics-cert-dir=/tmp/k8s-metrics-server/metrics-certs"' 'secretName: kube-operator-metrics-cert' \
      'alert: KubeOperatorNoLeader' 'k8s-app: kube-dns' 'app.kubernetes.io/component: test'
}
check "helm template (every optional object)" all_ok
# Plain metrics: the old :8080 endpoint, no HTTPS anywhere, no token in the test Pod.
plain_ok() {
  render "$TMP/plain.yaml" --set metrics.secure=false --set metrics.port=8080 \
    --set metrics.service.port=8080 --set serviceMonitor.enabled=true &&
    has "$TMP/plain.yaml" '"--metrics-secure=false"' '"--metrics-bind-address=:8080"' \
      'name: http-metrics' 'scheme: http$' &&
    lacks "$TMP/plain.yaml" 'https-metrics' 'bearerTokenFile' 'kube-operator-test-metrics-reader'
}
check "helm template (metrics.secure=false)" plain_ok

# The admission policies: the hierarchy-label one with the web app's identity (exempt with the
# operator and system:masters), scoped by a namespaceSelector; none at all when both are off.
# rbac.secrets=none: no Secret rule. metrics.tokenAudiences: the flag, comma-joined.
POLICIES=(--set webApp.serviceAccount=catalyst/catalyst-web
  --set 'admissionPolicies.hierarchyLabels.namespaceSelector.matchLabels.catalyst\.dev/managed=yes'
  --set rbac.secrets=none --set 'metrics.tokenAudiences={kube-operator-metrics,prometheus}')
policies_ok() {
  render "$TMP/policies.yaml" "${POLICIES[@]}" &&
    has "$TMP/policies.yaml" 'name: kube-operator-hierarchy-labels$' 'name: kube-operator-operator-writes$' \
      "'system:serviceaccount:default:kube-operator','system:serviceaccount:catalyst:catalyst-web'" \
      "g in \['system:masters'\]" 'catalyst.dev/managed: "yes"' \
      '"--metrics-token-audience=kube-operator-metrics,prometheus"' &&
    lacks "$TMP/policies.yaml" 'resources: \["secrets"\]' &&
    render "$TMP/no-policies.yaml" --set admissionPolicies.operator.enabled=false &&
    lacks "$TMP/no-policies.yaml" '^kind: ValidatingAdmissionPolicy'
}
check "helm template (admission policies, rbac.secrets=none, metrics.tokenAudiences)" policies_ok

# The PrometheusRule: valid rules, and they fire (and stay quiet) as tests/promtool expects.
rules_of() { # rendered.yaml out.yaml: the PrometheusRule's groups as a Prometheus rule file
  python3 - "$1" "$2" <<'EOF'
import sys, yaml
rules = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d.get("kind") == "PrometheusRule"]
assert len(rules) == 1, f"{len(rules)} PrometheusRules rendered"
yaml.safe_dump({"groups": rules[0]["spec"]["groups"]}, open(sys.argv[2], "w"), sort_keys=False)
EOF
}
rules_ok() {
  mkdir -p "$TMP/rules" && rules_of "$TMP/all.yaml" "$TMP/rules/rules.yaml" &&
    promtool check rules "$TMP/rules/rules.yaml" &&
    render "$TMP/single-rules.yaml" --set replicaCount=1 --set prometheusRule.enabled=true &&
    rules_of "$TMP/single-rules.yaml" "$TMP/rules/single.yaml" &&
    promtool check rules "$TMP/rules/single.yaml" &&
    lacks "$TMP/rules/single.yaml" 'KubeOperatorNoLeader'
}
check "PrometheusRule: promtool check rules (leader election on and off)" rules_ok
rules_test_ok() {
  cp "$REPO/tests/promtool/kube-operator-rules_test.yaml" "$TMP/rules/" &&
    promtool test rules "$TMP/rules/kube-operator-rules_test.yaml"
}
check "PrometheusRule: promtool test rules (tests/promtool)" rules_test_ok

# The dashboard: the ConfigMap's JSON parses, and each panel's PromQL does once Grafana's
# variables are replaced the way Grafana would.
dashboard_ok() {
  python3 - "$TMP/all.yaml" "$CHART/dashboards/kube-operator.json" "$TMP/dashboard-rules.yaml" <<'EOF'
import json, re, sys, yaml
cms = [d for d in yaml.safe_load_all(open(sys.argv[1]))
       if d and d.get("kind") == "ConfigMap" and d["metadata"].get("labels", {}).get("grafana_dashboard") == "1"]
assert len(cms) == 1, f"{len(cms)} dashboard ConfigMaps rendered"
dashboard = json.loads(cms[0]["data"]["kube-operator.json"])
assert dashboard == json.load(open(sys.argv[2])), "the ConfigMap differs from dashboards/kube-operator.json"
exprs = []
def walk(v):
    if isinstance(v, dict):
        if isinstance(v.get("expr"), str): exprs.append(v["expr"])
        for x in v.values(): walk(x)
    elif isinstance(v, list):
        for x in v: walk(x)
walk(dashboard["panels"])
assert exprs, "no expr in the dashboard"
values = {"__rate_interval": "5m", "namespace": "default", "service": ".+"}
def subst(e):
    out = re.sub(r"\$(\w+)|\$\{(\w+)\}", lambda m: values[m.group(1) or m.group(2)], e)
    assert "$" not in out, out
    return out
rules = [{"record": f"dashboard:expr_{i}", "expr": subst(e)} for i, e in enumerate(exprs)]
yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, open(sys.argv[3], "w"))
print(f"{len(exprs)} expressions")
EOF
  promtool check rules "$TMP/dashboard-rules.yaml"
}
check "Grafana dashboard: JSON parses, every PromQL expression parses (promtool)" dashboard_ok

# The oldest supported release renders; an older one is refused by the chart's kubeVersion.
old_ok() {
  render "$TMP/old.yaml" --kube-version 1.35.0 || return 1
  if render "$TMP/older.yaml" --kube-version 1.34.9 2>"$TMP/err"; then echo "1.34 accepted"; return 1; fi
  grep -q 'kubeVersion' "$TMP/err" || { cat "$TMP/err"; return 1; }
}
check "helm template (kube 1.35 renders, 1.34 refused)" old_ok

# The schema is in force: a wrong enum value is refused.
schema_ok() {
  if render "$TMP/bad.yaml" --set operator.logLevel=verbose 2>"$TMP/err"; then echo "accepted"; return 1; fi
  grep -q '/operator/logLevel' "$TMP/err" || { cat "$TMP/err"; return 1; }
}
check "values schema rejects logLevel=verbose" schema_ok
schema_sa_ok() {
  if render "$TMP/bad.yaml" --set webApp.serviceAccount=catalyst-web 2>"$TMP/err"; then echo "accepted"; return 1; fi
  grep -q '/webApp/serviceAccount' "$TMP/err" || { cat "$TMP/err"; return 1; }
}
check "values schema rejects webApp.serviceAccount without a namespace" schema_sa_ok

# --- server-side dry run against the local control plane, when it is up ------------------------
if [[ $KCFG != none && -f $KCFG ]] && "$KUBECTL" --kubeconfig "$KCFG" --request-timeout=5s get --raw /version >"$TMP/version" 2>/dev/null; then
  K=("$KUBECTL" --kubeconfig "$KCFG")
  ver=$(sed -n 's/.*"gitVersion": *"v\{0,1\}\([^"]*\)".*/\1/p' "$TMP/version")
  # Validated by the API server (schema, admission), never persisted.
  check "CRD: kubectl apply --dry-run=server" "${K[@]}" apply --dry-run=server -f "$CHART/crds/"
  # Without the test hook: its Pod's ServiceAccount would not exist (a dry run creates nothing).
  server_ok() {
    render "$TMP/server.yaml" --kube-version "$ver" --no-hooks &&
      "${K[@]}" apply --dry-run=server -f "$TMP/server.yaml"
  }
  check "helm template | kubectl apply --dry-run=server (kube $ver)" server_ok
  # NetworkPolicy, dashboard ConfigMap and the test hook, validated by the API server too.
  extras_ok() {
    render "$TMP/extras.yaml" --kube-version "$ver" --no-hooks --set networkPolicy.enabled=true \
      --set grafanaDashboard.enabled=true && "${K[@]}" apply --dry-run=server -f "$TMP/extras.yaml"
  }
  check "helm template (networkPolicy, grafanaDashboard) | kubectl apply --dry-run=server" extras_ok
  # Both admission policies and their bindings (CEL compiled by the server) and the Deployment
  # with --metrics-token-audience.
  policies_server_ok() {
    render "$TMP/policies-server.yaml" --kube-version "$ver" --no-hooks "${POLICIES[@]}" &&
      "${K[@]}" apply --dry-run=server -f "$TMP/policies-server.yaml"
  }
  check "helm template (admission policies) | kubectl apply --dry-run=server" policies_server_ok
  # The `helm test` hook; its Pod validated under the namespace's default ServiceAccount, which
  # exists (HelmE2E runs the real `helm test`).
  hook_ok() {
    render "$TMP/hook.yaml" --kube-version "$ver" --show-only templates/tests/test-readyz-metrics.yaml &&
      sed -i 's/^  serviceAccountName: .*-test$/  serviceAccountName: default/' "$TMP/hook.yaml" &&
      "${K[@]}" apply --dry-run=server -f "$TMP/hook.yaml"
  }
  check "helm test hook | kubectl apply --dry-run=server" hook_ok
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
