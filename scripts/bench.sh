#!/usr/bin/env bash
# The scale benchmark of issue #8: for each N, a fresh private control plane (with an audit log),
# the operator under its own identity, and bench/scale_bench driving N Environments through
# ramp, steady state, probes and deletion. Writes one JSON file and a PNG chart next to it.
#
# Usage: scripts/bench.sh [--build-dir DIR] [--operator BIN] [--driver BIN] [--sizes "100 1000"]
#                         [--out FILE.json] [--steady-seconds 60] [--probes 20]
#                         [--operator-args "..."] [--operator-env "VAR=value ..."] [--no-delete] [--keep-logs]
#   --build-dir: where src/kube-operator and bench/scale_bench are (default build; build them with
#                ninja -C DIR src/kube-operator bench/scale_bench)
#   --operator-args: extra operator flags (word-split), e.g. "--kube-api-qps 200"
#   --operator-env: environment for the operator only, e.g. "MALLOC_ARENA_MAX=2"
#   --no-delete: skip the deletion phase (the cluster is torn down anyway)
# Env:   CLUSTER_DIR (/tmp/kube-operator-bench/cluster), APISERVER_PORT (36443),
#        ETCD_CLIENT_PORT (43790), ETCD_PEER_PORT (43800), METRICS_PORT (38080), PROBE_PORT (38081),
#        BENCH_REV (git revision to record when the tree is not a checkout)
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
. "$REPO/scripts/lib.sh"

BUILD_DIR=$REPO/build OPERATOR='' DRIVER='' SIZES="100 1000" OUT='' STEADY=60 PROBES=20
OPERATOR_ARGS='' OPERATOR_ENV='' KEEP_LOGS=0 DELETE=1
while (($#)); do
  case $1 in
    --build-dir) BUILD_DIR=$(realpath "$2"); shift 2 ;;
    --operator) OPERATOR=$(realpath "$2"); shift 2 ;;
    --driver) DRIVER=$(realpath "$2"); shift 2 ;;
    --sizes) SIZES=$2; shift 2 ;;
    --out) OUT=$(realpath -m "$2"); shift 2 ;;
    --steady-seconds) STEADY=$2; shift 2 ;;
    --probes) PROBES=$2; shift 2 ;;
    --operator-args) OPERATOR_ARGS=$2; shift 2 ;;
    --operator-env) OPERATOR_ENV=$2; shift 2 ;;
    --keep-logs) KEEP_LOGS=1; shift ;;
    --no-delete) DELETE=0; shift ;;
    -h | --help) sed -n '2,16s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
OPERATOR=${OPERATOR:-$BUILD_DIR/src/kube-operator}
DRIVER=${DRIVER:-$BUILD_DIR/bench/scale_bench}
for b in "$OPERATOR" "$DRIVER"; do
  [[ -x $b ]] || die "$b missing: ninja -C $BUILD_DIR src/kube-operator bench/scale_bench"
done
command -v gnuplot >/dev/null || die "gnuplot missing: apt-get install gnuplot-nox"

export CLUSTER_DIR=${CLUSTER_DIR:-/tmp/kube-operator-bench/cluster}
export APISERVER_PORT=${APISERVER_PORT:-36443} ETCD_CLIENT_PORT=${ETCD_CLIENT_PORT:-43790}
export ETCD_PEER_PORT=${ETCD_PEER_PORT:-43800}
METRICS_PORT=${METRICS_PORT:-38080} PROBE_PORT=${PROBE_PORT:-38081}
# The bench's traps (issue #8): pods jump straight to running; kube-controller-manager's own
# deployment/replicaset/namespace workers must not set the pace; with the simulator paused the
# node stops heartbeating, and the node controller would mark every pod NotReady after 40 s
# (which the operator would rightly act on) — so the grace period outlasts the run.
# (cluster-up.sh already widens the service range to a /16 and raises the controller-manager's QPS.)
export KUBELET_SIM_EXTRA_ARGS=${KUBELET_SIM_EXTRA_ARGS:---step-delay=0}
export KCM_EXTRA_ARGS=${KCM_EXTRA_ARGS:---node-monitor-grace-period=2h --pod-eviction-timeout=2h \
--concurrent-deployment-syncs=20 --concurrent-replicaset-syncs=20 --concurrent-namespace-syncs=20}

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-$REPO/bench/results/$STAMP.json}
mkdir -p "$(dirname "$OUT")"
WORK=$(dirname "$CLUSTER_DIR")/run-$STAMP
mkdir -p "$WORK"
USER_NAME=kube-operator-bench
K() { "$BIN/kubectl" --kubeconfig "$CLUSTER_DIR/kubeconfig" "$@"; }

op_pid=
cleanup() {
  if [[ -n $op_pid ]] && alive "$op_pid"; then kill -TERM "$op_pid"; wait "$op_pid" 2>/dev/null || true; fi
  op_pid=
  if [[ -f $CLUSTER_DIR/kube-apiserver.pid ]]; then "$REPO/scripts/cluster-down.sh" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

# Client certificate for the operator: a user of its own, in no group, bound to the chart's roles.
identity() {
  local pki=$CLUSTER_DIR/pki
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$USER_NAME" \
    -keyout "$WORK/op.key" -out "$WORK/op.csr" 2>/dev/null
  openssl x509 -req -in "$WORK/op.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 1 \
    -out "$WORK/op.crt" -extfile <(printf 'keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n') 2>/dev/null
  sed -e "s#client-certificate-data: .*#client-certificate-data: $(base64 -w0 "$WORK/op.crt")#" \
    -e "s#client-key-data: .*#client-key-data: $(base64 -w0 "$WORK/op.key")#" \
    "$CLUSTER_DIR/kubeconfig" >"$WORK/operator.kubeconfig"
  "$BIN/helm" template bench "$REPO/deploy/kube-operator" --namespace default --show-only templates/rbac.yaml |
    K apply -f - >/dev/null
  K create clusterrolebinding bench-operator-user --clusterrole=bench-kube-operator --user="$USER_NAME" >/dev/null
  K -n default create rolebinding bench-operator-user-lease --role=bench-kube-operator-leader-election \
    --user="$USER_NAME" >/dev/null
}

runs=()
for n in $SIZES; do
  log "N=$n: starting the control plane"
  audit=$WORK/audit-$n.log
  "$REPO/scripts/cluster-up.sh" --audit-log "$audit" >"$WORK/cluster-up-$n.log" 2>&1 ||
    { tail -20 "$WORK/cluster-up-$n.log" >&2; die "cluster-up failed"; }
  K apply -f "$REPO/crds/" >/dev/null
  K wait --for condition=established --timeout=60s crd/environments.catalyst.catalyst.dev >/dev/null
  identity
  log "N=$n: starting the operator ($OPERATOR)"
  # shellcheck disable=SC2086 # word-split on purpose
  env $OPERATOR_ENV "$OPERATOR" --kubeconfig "$WORK/operator.kubeconfig" --log-level warn \
    --metrics-bind-address "127.0.0.1:$METRICS_PORT" --health-probe-bind-address "127.0.0.1:$PROBE_PORT" \
    $OPERATOR_ARGS >"$WORK/operator-$n.log" 2>&1 </dev/null &
  op_pid=$!
  for ((i = 0; i < 120; i++)); do
    curl -fsS "http://127.0.0.1:$PROBE_PORT/readyz" >/dev/null 2>&1 && break
    alive "$op_pid" || die "the operator exited: $(tail -5 "$WORK/operator-$n.log")"
    sleep 0.25
  done
  log "N=$n: operator ready (pid $op_pid); running the driver"
  "$DRIVER" --kubeconfig="$CLUSTER_DIR/kubeconfig" --n="$n" --operator-pid="$op_pid" \
    --sim-pid="$(cat "$CLUSTER_DIR/kubelet-sim.pid")" --audit-log="$audit" --operator-user="$USER_NAME" \
    --steady-seconds="$STEADY" --probes="$PROBES" --delete="$DELETE" --out="$WORK/run-$n.json" --series="$WORK/series-$n.tsv" ||
    log "N=$n: the driver reported a failure (partial results kept)"
  [[ -s $WORK/run-$n.json ]] && runs+=("$(cat "$WORK/run-$n.json")")
  [[ -s $WORK/series-$n.tsv ]] && cp "$WORK/series-$n.tsv" "${OUT%.json}.series-$n.tsv"
  alive "$op_pid" || log "N=$n: the operator died: $(tail -5 "$WORK/operator-$n.log")"
  cleanup
  ((KEEP_LOGS)) || rm -f "$audit"
done

rev=${BENCH_REV:-$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)}
joined=$(IFS=,; echo "${runs[*]}")
cat >"$OUT" <<EOF
{"date":"$STAMP","git":"$rev","machine":{"nproc":$(nproc),"cpu":"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)","kernel":"$(uname -r)","mem_mib":$(($(awk '/MemTotal/{print $2}' /proc/meminfo) / 1024)),"loadavg_end":"$(cut -d' ' -f1-3 /proc/loadavg)"},
 "operator":{"binary":"$OPERATOR","sha256":"$(sha256sum "$OPERATOR" | cut -c1-16)","args":"$OPERATOR_ARGS","env":"$OPERATOR_ENV"},
 "kcm_extra_args":"$KCM_EXTRA_ARGS","kubelet_sim_extra_args":"$KUBELET_SIM_EXTRA_ARGS",
 "runs":[$joined]}
EOF
log "results: $OUT"
python3 "$REPO/bench/summary.py" "$OUT"

# Chart: Ready Environments and operator RSS against time, one line per N.
png=${OUT%.json}.png
plots_ready='' plots_rss=''
for n in $SIZES; do
  f=${OUT%.json}.series-$n.tsv
  [[ -s $f ]] || continue
  plots_ready+="${plots_ready:+, }'$f' using 1:4 with lines lw 2 title 'N=$n'"
  plots_rss+="${plots_rss:+, }'$f' using 1:3 with lines lw 2 title 'N=$n'"
done
if [[ -n $plots_ready ]]; then
  gnuplot <<EOF
set terminal pngcairo size 1000,900 noenhanced
set output '$png'
set multiplot layout 2,1 title 'kube-operator scale bench $STAMP ($rev, $(nproc) cores)'
set grid
set key left top
set xlabel 'seconds since the driver started (idle, ramp, steady, probes, delete)'
set ylabel 'Environments Ready'
plot $plots_ready
set ylabel 'operator RSS (MiB)'
set yrange [0:*]
plot $plots_rss
unset multiplot
EOF
  log "chart: $png"
fi
if ((KEEP_LOGS)); then log "logs and series kept in $WORK"; else rm -rf "$WORK"; fi
