#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, starts the
# local control plane (left running), installs the CRD and a sample Environment,
# runs the operator until the Environment is Ready, and prints how to go on.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
. "$REPO/scripts/lib.sh"
cd "$REPO"

"$REPO/scripts/install-deps.sh"
"$REPO/scripts/build-kube.sh"
export PATH=$BIN:$PATH CCACHE_DIR=${CCACHE_DIR:-$CACHE/ccache}
[[ -f build/build.ninja ]] || meson setup build >/dev/null
log "compiling"
ninja -C build >/dev/null

export CLUSTER_DIR=${CLUSTER_DIR:-/tmp/kube-operator-cluster}
if pid_alive "$CLUSTER_DIR/kube-apiserver.pid"; then
  log "control plane already running in $CLUSTER_DIR"
else
  "$REPO/scripts/cluster-up.sh" >/dev/null
fi
export KUBECONFIG=$CLUSTER_DIR/kubeconfig

kubectl apply -f crds/ >/dev/null
kubectl wait --for condition=established --timeout=60s crd/environments.catalyst.catalyst.dev >/dev/null
log "CRD installed"
kubectl create namespace my-team-my-project --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl apply -f examples/environment.yaml >/dev/null
kubectl get environments -A

if ! pid_alive "$CLUSTER_DIR/kube-operator.pid"; then
  log "starting the operator (log: $CLUSTER_DIR/kube-operator.log)"
  # Loopback only: the demo's metrics and probes are for this machine, not its network.
  setsid build/src/kube-operator --kubeconfig "$KUBECONFIG" --log-format text \
    --metrics-bind-address 127.0.0.1:8080 --health-probe-bind-address 127.0.0.1:8081 \
    >"$CLUSTER_DIR/kube-operator.log" 2>&1 </dev/null &
  echo $! >"$CLUSTER_DIR/kube-operator.pid"
fi
# Show the phases as they come.
last=
for ((i = 0; i < 180; i++)); do
  phase=$(kubectl get -n my-team-my-project environment/pr-123 -o jsonpath='{.status.phase}' 2>/dev/null || true)
  [[ $phase != "$last" && -n $phase ]] && log "pr-123: ${phase}" && last=$phase
  [[ $phase == Ready ]] && break
  sleep 1
done
kubectl get environments -A
[[ $last == Ready ]] || die "pr-123 did not become Ready; see $CLUSTER_DIR/kube-operator.log"
kubectl get all,networkpolicy,resourcequota,ingress -n "$(kubectl get -n my-team-my-project environment/pr-123 -o jsonpath='{.status.namespace}')"

cat <<TXT

The control plane and the operator are still running.
  export PATH=$BIN:\$PATH KUBECONFIG=$KUBECONFIG
  kubectl get environments -A
  kubectl delete environment -n my-team-my-project pr-123   # the operator removes its namespace
Stop everything with: scripts/cluster-down.sh
TXT
