# shellcheck shell=bash disable=SC2034
# scripts/bench.sh operator definition: this tree's kube-operator.
#
# A definition is sourced by scripts/bench.sh (which has set REPO, BUILD_DIR, CACHE, K for
# kubectl with the admin kubeconfig, and die/log) and sets:
#   OP_CRDS        files or directories applied before the run (the operator's own CRDs)
#   OP_CRD_NAMES   the CRDs those create (deleted before another definition's CRDs are applied)
#   OP_MANAGED_BY  the value of app.kubernetes.io/managed-by on the namespaces it creates
#   OP_READY       "readyz" (GET /readyz on the probe port answers 200) or "log:REGEX"
#                  (a line of its output matches)
#   OP_METRICS     1 if it serves Prometheus metrics on the metrics port
# and defines:
#   op_prepare             check (or build and cache) the binary; runs once per bench.sh
#   op_rbac USER PREFIX    grant USER (a client-certificate user, no group) what the operator needs;
#                          PREFIX names the objects created, unique per run
#   op_command KUBECONFIG METRICS_PORT PROBE_PORT   sets OP_CMD, the command line (an array)
# --operator-args and the extra words of a --run are appended to OP_CMD.
OP_BINARY=${KUBE_OPERATOR_BIN:-$BUILD_DIR/src/kube-operator}
OP_CRDS=("$REPO/crds/")
OP_CRD_NAMES=(environments.catalyst.catalyst.dev projects.catalyst.catalyst.dev)
OP_MANAGED_BY=kube-operator
OP_READY=readyz
OP_METRICS=1

op_prepare() {
  [[ -x $OP_BINARY ]] || die "$OP_BINARY missing: ninja -C $BUILD_DIR src/kube-operator"
}

# The chart's ClusterRole and lease Role (helm template), bound to the user.
op_rbac() {
  local user=$1 prefix=$2
  "$BIN/helm" template bench "$REPO/deploy/kube-operator" --namespace default --show-only templates/rbac.yaml |
    K apply -f - >/dev/null
  K create clusterrolebinding "$prefix-user" --clusterrole=bench-kube-operator --user="$user" >/dev/null
  K -n default create rolebinding "$prefix-user-lease" --role=bench-kube-operator-leader-election \
    --user="$user" >/dev/null
}

# The shipped defaults (4 workers, the default QPS/burst, 5 s resync) plus quieter logs and
# private metrics/probe ports.
op_command() {
  OP_CMD=("$OP_BINARY" --kubeconfig "$1" --log-level warn
    --metrics-bind-address "127.0.0.1:$2" --health-probe-bind-address "127.0.0.1:$3")
}
