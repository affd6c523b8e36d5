# shellcheck shell=bash disable=SC2034
# scripts/bench.sh operator definition: the client-go reference operator (../shared/peer-go,
# read-only; see its README). Its binary is built offline by its build.sh against the
# Kubernetes tree scripts/build-kube.sh prepared, and cached outside the repository under
# $CACHE/peer-go/<hash of its sources>/. See kube-operator.sh for what a definition sets.
PEER_GO_DIR=${PEER_GO_DIR:-$REPO/../shared/peer-go}
OP_CRDS=("$PEER_GO_DIR/crd.yaml")
OP_CRD_NAMES=(environments.catalyst.catalyst.dev)
OP_MANAGED_BY=catalyst-operator
OP_READY='log:caches synced'
OP_METRICS=0

op_prepare() {
  [[ -f $PEER_GO_DIR/build.sh ]] || die "$PEER_GO_DIR/build.sh missing (set PEER_GO_DIR)"
  local hash
  hash=$(cat "$PEER_GO_DIR"/*.go "$PEER_GO_DIR/build.sh" | sha256sum | cut -c1-16)
  OP_BINARY=$CACHE/peer-go/$hash/catalyst-peer-go
  if [[ ! -x $OP_BINARY ]]; then
    log "building the client-go reference operator into $OP_BINARY (offline, a few minutes)"
    PEER_GOPATH=$CACHE/peer-go/gopath PEER_OUT=$OP_BINARY bash "$PEER_GO_DIR/build.sh" >&2 ||
      die "$PEER_GO_DIR/build.sh failed"
  fi
}

# What it does: informers (list/watch) on Environments and every owned kind including Pods,
# create/update of the owned objects, the finalizer by update, status by merge patch, Events.
op_rbac() {
  local user=$1 prefix=$2
  K apply -f - >/dev/null <<YAML
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: bench-catalyst-peer-go
rules:
- apiGroups: ["catalyst.catalyst.dev"]
  resources: ["environments"]
  verbs: ["get", "list", "watch", "update", "patch"]
- apiGroups: ["catalyst.catalyst.dev"]
  resources: ["environments/status"]
  verbs: ["get", "update", "patch"]
- apiGroups: [""]
  resources: ["namespaces", "services", "persistentvolumeclaims", "resourcequotas"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["networking.k8s.io"]
  resources: ["networkpolicies", "ingresses"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["", "events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "update", "patch"]
YAML
  K create clusterrolebinding "$prefix-user" --clusterrole=bench-catalyst-peer-go --user="$user" >/dev/null
}

# Its defaults (4 workers, QPS 100 / burst 200, 5 s resync); it serves no metrics or probes.
op_command() {
  OP_CMD=("$OP_BINARY" --kubeconfig "$1")
}
