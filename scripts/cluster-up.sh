#!/usr/bin/env bash
# Starts a local Kubernetes control plane (KUBE_VERSION, default 1.37; scripts/build-kube.sh builds
# it) on 127.0.0.1: etcd, kube-apiserver (TLS, RBAC),
# kube-controller-manager and the kubelet simulator, with state, logs and pid files in
# $CLUSTER_DIR (default /tmp/kube-operator-cluster), recreated on every start.
#
# Usage: scripts/cluster-up.sh [--audit-log FILE]
# Env:   CLUSTER_DIR, KUBE_OPERATOR_CACHE, KUBE_VERSION, ETCD_CLIENT_PORT (23790), ETCD_PEER_PORT (23800),
#        APISERVER_PORT (16443), SKIP_KUBELET_SIM=1, APISERVER_EXTRA_ARGS, KCM_EXTRA_ARGS,
#        KUBELET_SIM_EXTRA_ARGS (extra args are word-split), READY_TIMEOUT (60 s per wait)
# Stop:  scripts/cluster-down.sh [--purge]
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
. "$REPO/scripts/lib.sh"

CLUSTER_DIR=${CLUSTER_DIR:-/tmp/kube-operator-cluster}
ETCD_CLIENT_PORT=${ETCD_CLIENT_PORT:-23790}
ETCD_PEER_PORT=${ETCD_PEER_PORT:-23800}
APISERVER_PORT=${APISERVER_PORT:-16443}
READY_TIMEOUT=${READY_TIMEOUT:-60}
SERVICE_CIDR=10.96.0.0/16 # wide: every Environment needs two Services and benchmarks create thousands
SERVICE_IP=10.96.0.1      # first IP of SERVICE_CIDR: the `kubernetes` Service, must be in the serving cert
NODE_NAME=sim-node

AUDIT_LOG=
while (($#)); do
  case $1 in
    --audit-log) [[ $# -ge 2 ]] || die "--audit-log needs a FILE"; AUDIT_LOG=$(realpath -m "$2"); shift 2 ;;
    -h | --help) sed -n '2,10s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (usage: $0 [--audit-log FILE])" ;;
  esac
done

D=$CLUSTER_DIR
PKI=$D/pki
KUBECTL=$BIN/kubectl

for b in etcd kube-apiserver kube-controller-manager kubectl; do
  [[ -x $BIN/$b ]] || die "$BIN/$b missing: run scripts/build-kube.sh $KUBE_VERSION"
done
if [[ ${SKIP_KUBELET_SIM:-} != 1 && ! -x $BIN/kubelet-sim ]]; then
  die "$BIN/kubelet-sim missing: run scripts/build-kube.sh (or SKIP_KUBELET_SIM=1)"
fi

# --- fresh state dir ---------------------------------------------------------------------------
for c in etcd kube-apiserver kube-controller-manager kubelet-sim; do
  pid_alive "$D/$c.pid" && die "a cluster is already running in $D ($c pid $(cat "$D/$c.pid")); stop it with scripts/cluster-down.sh"
done
# A port held by someone else (another cluster, the system etcd on 2379...) would surface as a
# confusing timeout later; report it now.
for p in "$ETCD_CLIENT_PORT" "$ETCD_PEER_PORT" "$APISERVER_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    die "127.0.0.1:$p is already in use (override with ETCD_CLIENT_PORT/ETCD_PEER_PORT/APISERVER_PORT)"
  fi
done
# Only wipe directories this script created (marker file): CLUSTER_DIR may be mistyped.
if [[ -e $D ]]; then
  [[ -f $D/.kube-operator-cluster || -z $(ls -A "$D") ]] || die "$D exists and was not created by cluster-up.sh; refusing to wipe it"
  rm -rf "$D"
fi
mkdir -p "$PKI"
touch "$D/.kube-operator-cluster"

# On any failure: show what happened, stop whatever was started, keep the logs.
started=0
on_exit() {
  local rc=$?
  if ((rc != 0 && started)); then
    log "startup failed; stopping the components started so far (logs kept in $D)"
    CLUSTER_DIR=$D "$REPO/scripts/cluster-down.sh" >&2 || true
  fi
}
trap on_exit EXIT

# --- PKI ----------------------------------------------------------------------------------------
log "generating certificates in $PKI"
ossl() { openssl "$@" 2>>"$PKI/openssl.log" || die "openssl $1 failed (see $PKI/openssl.log)"; }
# ECDSA P-256 throughout: generating six RSA keys costs seconds per start, EC keys are instant.
EC=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
ossl req -x509 "${EC[@]}" -nodes -days 3650 -subj "/CN=kube-operator-local-ca" \
  -keyout "$PKI/ca.key" -out "$PKI/ca.crt" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
# issue NAME SUBJECT EXTENSIONS: key + certificate signed by the local CA.
issue() {
  ossl req "${EC[@]}" -nodes -subj "$2" -keyout "$PKI/$1.key" -out "$PKI/$1.csr"
  ossl x509 -req -in "$PKI/$1.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial -days 365 \
    -out "$PKI/$1.crt" -extfile <(printf '%s\n' "$3")
  rm -f "$PKI/$1.csr"
}
issue apiserver "/CN=kube-apiserver" "keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost,IP:$SERVICE_IP,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
# Client identities. All are in system:masters (controller-manager runs with
# --use-service-account-credentials=false, so its own identity needs every controller's rights);
# distinct CNs keep them apart in the audit log.
client_ext="keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
issue admin "/O=system:masters/CN=kube-operator-admin" "$client_ext"
issue controller-manager "/O=system:masters/CN=system:kube-controller-manager" "$client_ext"
issue kubelet-sim "/O=system:masters/CN=kubelet-sim" "$client_ext"
# Service-account token signing pair (apiserver verifies, token controller signs).
ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/sa.key"
ossl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub"

# kubeconfig FILE CERTNAME: self-contained (embedded data) kubeconfig with context `local`.
kubeconfig() {
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(base64 -w0 "$PKI/$2.crt")
    client-key-data: $(base64 -w0 "$PKI/$2.key")
contexts:
- name: local
  context:
    cluster: local
    user: $2
current-context: local
EOF
  chmod 600 "$1"
}
kubeconfig "$D/kubeconfig" admin
kubeconfig "$D/controller-manager.kubeconfig" controller-manager
kubeconfig "$D/kubelet-sim.kubeconfig" kubelet-sim

# --- process helpers ---------------------------------------------------------------------------
# start NAME CMD...: run detached (own session, so a Ctrl-C or the caller's process group dying
# doesn't take the cluster down), log to NAME.log, exact PID (the inner bash execs CMD) to NAME.pid.
start() {
  local name=$1; shift
  started=1
  printf '%s\0' "$@" >"$D/$name.cmd" # for scripts/cluster-ctl.sh to restart it the same way
  # shellcheck disable=SC2016 # $$, $0 and $@ belong to the inner bash
  setsid bash -c 'echo $$ >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' "$D/$name.pid" "$@" \
    >"$D/$name.log" 2>&1 </dev/null &
  local i
  for ((i = 0; i < 50; i++)); do [[ -f $D/$name.pid ]] && return; sleep 0.1; done
  die "$name did not start"
}
# wait_for NAME DESCRIPTION CMD...: poll CMD until it succeeds; fail early if NAME died.
wait_for() {
  local name=$1 what=$2; shift 2
  local deadline=$((SECONDS + READY_TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    if ! pid_alive "$D/$name.pid"; then
      tail -n 25 "$D/$name.log" >&2
      die "$name exited while waiting for $what (log: $D/$name.log)"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 25 "$D/$name.log" >&2
      die "timed out after ${READY_TIMEOUT}s waiting for $what (log: $D/$name.log)"
    fi
    sleep 0.25
  done
  log "$what: ok"
}

# --- etcd ----------------------------------------------------------------------------------------
log "starting etcd on 127.0.0.1:$ETCD_CLIENT_PORT"
start etcd "$BIN/etcd" --name local --data-dir "$D/etcd-data" --logger zap \
  --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "local=http://127.0.0.1:$ETCD_PEER_PORT" --initial-cluster-state new
etcd_healthy() { curl -fsS "http://127.0.0.1:$ETCD_CLIENT_PORT/health" | grep -q '"health":"true"'; }
wait_for etcd "etcd health" etcd_healthy

# --- kube-apiserver --------------------------------------------------------------------------------
audit_args=()
if [[ -n $AUDIT_LOG ]]; then
  mkdir -p "$(dirname "$AUDIT_LOG")"
  # One event per request at Metadata level (who, verb, resource, status; no bodies).
  # RequestReceived is omitted: it would double every request without adding information.
  cat >"$D/audit-policy.yaml" <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
EOF
  audit_args=(--audit-policy-file="$D/audit-policy.yaml" --audit-log-path="$AUDIT_LOG")
fi
log "starting kube-apiserver on https://127.0.0.1:$APISERVER_PORT"
# shellcheck disable=SC2086 # extra args are meant to be word-split
start kube-apiserver "$BIN/kube-apiserver" \
  --etcd-servers="http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
  --cert-dir="$PKI" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" --authorization-mode=RBAC \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --service-account-issuer=https://kubernetes.default.svc \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  --endpoint-reconciler-type=none \
  --allow-privileged=true \
  --watch-cache-sizes=podtemplates#0 \
  "${audit_args[@]}" ${APISERVER_EXTRA_ARGS:-}
# (--endpoint-reconciler-type=none: the default reconciler refuses a loopback advertise address
# and logs an error every 10 s. --watch-cache-sizes=podtemplates#0: one resource nothing uses is
# served from etcd, not the watch cache, so a watch resumed from a compacted revision gets 410
# from etcd itself; tests/e2e/fault_e2e_test.cc relies on it.)
curl_admin() { curl -fsS --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "https://127.0.0.1:$APISERVER_PORT$1"; }
apiserver_ready() { [[ $(curl_admin /readyz) == ok ]]; }
wait_for kube-apiserver "kube-apiserver /readyz" apiserver_ready

# --- kube-controller-manager ---------------------------------------------------------------------
log "starting kube-controller-manager"
# --secure-port=0: no serving endpoint (the default 10257 could clash and the self-signed serving
# cert would go to /var/run/kubernetes).
# shellcheck disable=SC2086
start kube-controller-manager "$BIN/kube-controller-manager" \
  --kubeconfig="$D/controller-manager.kubeconfig" \
  '--controllers=*' --use-service-account-credentials=false \
  --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
  --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
  --kube-api-qps=1000 --kube-api-burst=2000 \
  --leader-elect=false --secure-port=0 \
  ${KCM_EXTRA_ARGS:-}
# The token controller creating default/default proves the controller-manager is working
# (and ServiceAccount admission needs it before any Pod can be created).
k() { "$KUBECTL" --kubeconfig "$D/kubeconfig" "$@"; }
wait_for kube-controller-manager "default ServiceAccount" k -n default get serviceaccount default

# --- kubelet simulator ------------------------------------------------------------------------------
if [[ ${SKIP_KUBELET_SIM:-} != 1 ]]; then
  log "starting kubelet-sim (node $NODE_NAME)"
  # shellcheck disable=SC2086
  start kubelet-sim "$BIN/kubelet-sim" --kubeconfig "$D/kubelet-sim.kubeconfig" --node-name "$NODE_NAME" \
    ${KUBELET_SIM_EXTRA_ARGS:-}
  wait_for kubelet-sim "node $NODE_NAME registered" k get node "$NODE_NAME"
else
  log "SKIP_KUBELET_SIM=1: no kubelet simulator, Pods will stay Pending"
fi

log "cluster ready"
cat <<EOF
Local cluster (Kubernetes $("$BIN/kube-apiserver" --version | awk '{print $2}')) is up; state and logs in $D${AUDIT_LOG:+, audit log $AUDIT_LOG}.
  export KUBECONFIG=$D/kubeconfig
  export PATH=$BIN:\$PATH     # kubectl $("$KUBECTL" version --client 2>/dev/null | awk 'NR==1{print $NF}') and helm; /usr/bin/kubectl may be another version
  kubectl get ns
Stop: $REPO/scripts/cluster-down.sh [--purge]
EOF
