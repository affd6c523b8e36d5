#!/usr/bin/env bash
# The scale benchmark of issue #8, and the burst comparison against the client-go reference: for
# each N, a fresh private control plane (with an audit log) and, one after the other on it, each
# operator of the run list under its own identity and with its own CRDs, bench/scale_bench
# driving N Environments through ramp, steady state, probes and deletion. Writes one JSON file, a
# PNG chart next to it, and prints a table (side by side with ratios when several operators ran).
#
# Usage: scripts/bench.sh [--build-dir DIR] [--operator BIN] [--driver BIN] [--sizes "100 1000"]
#                         [--run "DEF[@LABEL] [ARGS...]"]... [--reference LABEL]
#                         [--out FILE.json] [--steady-seconds 60] [--probes 20]
#                         [--operator-args "..."] [--operator-env "VAR=value ..."] [--no-delete] [--keep-logs]
#                         [--request-costs]
#   --build-dir: where src/kube-operator and bench/scale_bench are (default build; build them with
#                ninja -C DIR src/kube-operator bench/scale_bench)
#   --run: an operator to run, in order, on each N's control plane (repeatable; default: one run of
#          kube-operator). DEF is a definition in bench/operators/ (kube-operator, peer-go: the
#          client-go reference) or a path to one (any operator command with its own CRDs: see
#          bench/operators/kube-operator.sh); ARGS are appended to its command; LABEL names the run
#          (default DEF), e.g. --run kube-operator --run "kube-operator@qps200 --kube-api-qps 200"
#          --run peer-go
#   --reference: the run the table's ratios divide by (default peer-go when it ran)
#   --operator: the kube-operator binary; --operator-args, --operator-env: extra flags (word-split)
#                and environment for kube-operator runs, e.g. "--workers 8", "MALLOC_ARENA_MAX=2"
#   --no-delete: skip the deletion phase (the cluster is torn down anyway)
#   --request-costs: after the runs of each N, bench/request_cost_bench on the same control plane
#          (controller-manager and simulator paused): API server and etcd CPU per request, for each
#          kind of request an Environment's creation causes, as POST, server-side apply and no-op apply
# Env:   CLUSTER_DIR (/tmp/kube-operator-bench/cluster), APISERVER_PORT (36443),
#        ETCD_CLIENT_PORT (43790), ETCD_PEER_PORT (43800), METRICS_PORT (38080), PROBE_PORT (38081),
#        BENCH_REV (git revision to record when the tree is not a checkout),
#        PEER_GO_DIR (../shared/peer-go), REQUEST_COSTS_N (300 requests of each kind)
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
. "$REPO/scripts/lib.sh"

BUILD_DIR=$REPO/build OPERATOR='' DRIVER='' SIZES="100 1000" OUT='' STEADY=60 PROBES=20
OPERATOR_ARGS='' OPERATOR_ENV='' KEEP_LOGS=0 DELETE=1 REFERENCE='' REQUEST_COSTS=0
RUNS=()
while (($#)); do
  case $1 in
    --build-dir) BUILD_DIR=$(realpath "$2"); shift 2 ;;
    --operator) OPERATOR=$(realpath "$2"); shift 2 ;;
    --driver) DRIVER=$(realpath "$2"); shift 2 ;;
    --sizes) SIZES=$2; shift 2 ;;
    --run) RUNS+=("$2"); shift 2 ;;
    --reference) REFERENCE=$2; shift 2 ;;
    --out) OUT=$(realpath -m "$2"); shift 2 ;;
    --steady-seconds) STEADY=$2; shift 2 ;;
    --probes) PROBES=$2; shift 2 ;;
    --operator-args) OPERATOR_ARGS=$2; shift 2 ;;
    --operator-env) OPERATOR_ENV=$2; shift 2 ;;
    --keep-logs) KEEP_LOGS=1; shift ;;
    --no-delete) DELETE=0; shift ;;
    --request-costs) REQUEST_COSTS=1; shift ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
((${#RUNS[@]})) || RUNS=(kube-operator)
export KUBE_OPERATOR_BIN=${OPERATOR:-$BUILD_DIR/src/kube-operator}
DRIVER=${DRIVER:-$BUILD_DIR/bench/scale_bench}
[[ -x $DRIVER ]] || die "$DRIVER missing: ninja -C $BUILD_DIR src/kube-operator bench/scale_bench"
COST_DRIVER=$(dirname "$DRIVER")/request_cost_bench
((!REQUEST_COSTS)) || [[ -x $COST_DRIVER ]] || die "$COST_DRIVER missing: ninja -C $BUILD_DIR bench/request_cost_bench"
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
# The audit log is what counts each operator's requests: never rotated during a run (the API
# server's log rotation defaults to 100 MB, a few runs' worth).
export APISERVER_EXTRA_ARGS="${APISERVER_EXTRA_ARGS:-} --audit-log-maxsize=1000000"

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-$REPO/bench/results/$STAMP.json}
mkdir -p "$(dirname "$OUT")"
WORK=$(dirname "$CLUSTER_DIR")/run-$STAMP
mkdir -p "$WORK"
K() { "$BIN/kubectl" --kubeconfig "$CLUSTER_DIR/kubeconfig" "$@"; }

# Loads a definition (bench/operators/DEF.sh or a path): its OP_* variables and op_* functions.
load_def() {
  local def=$1 file
  if [[ $def == */* || $def == *.sh ]]; then file=$(realpath "$def"); else file=$REPO/bench/operators/$def.sh; fi
  [[ -f $file ]] || die "no operator definition $def ($file; see bench/operators/)"
  unset OP_BINARY OP_CRDS OP_CRD_NAMES OP_MANAGED_BY OP_READY OP_METRICS OP_CMD
  unset -f op_prepare op_rbac op_command
  # shellcheck disable=SC1090
  . "$file"
  DEF_FILE=$file
  op_prepare
}
# Splits a --run entry: RUN_DEF, RUN_LABEL, RUN_ARGS (an array).
parse_run() {
  local words
  read -r -a words <<<"$1"
  RUN_DEF=${words[0]%%@*}
  RUN_LABEL=${words[0]#*@}
  RUN_ARGS=("${words[@]:1}")
  [[ ${words[0]} == *@* ]] || RUN_LABEL=$(basename "$RUN_DEF" .sh)
}
# Every definition is checked (and the reference's binary built) before any cluster starts.
labels=()
for run in "${RUNS[@]}"; do
  parse_run "$run"
  load_def "$RUN_DEF"
  for l in "${labels[@]}"; do [[ $l != "$RUN_LABEL" ]] || die "two runs labelled $RUN_LABEL: use DEF@LABEL"; done
  labels+=("$RUN_LABEL")
done
if [[ -z $REFERENCE ]]; then
  for l in "${labels[@]}"; do [[ $l != peer-go ]] || REFERENCE=peer-go; done
fi

op_pid=
stop_operator() {
  if [[ -n $op_pid ]] && alive "$op_pid"; then kill -TERM "$op_pid"; wait "$op_pid" 2>/dev/null || true; fi
  op_pid=
}
cleanup() {
  stop_operator
  if [[ -f $CLUSTER_DIR/kube-apiserver.pid ]]; then "$REPO/scripts/cluster-down.sh" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

# Client certificate for a user of its own (no group): the audit log then counts exactly the
# operator's requests. Writes $WORK/$1.kubeconfig.
identity() {
  local user=$1 pki=$CLUSTER_DIR/pki
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$user" \
    -keyout "$WORK/$user.key" -out "$WORK/$user.csr" 2>/dev/null
  openssl x509 -req -in "$WORK/$user.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 1 \
    -out "$WORK/$user.crt" -extfile <(printf 'keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n') 2>/dev/null
  sed -e "s#client-certificate-data: .*#client-certificate-data: $(base64 -w0 "$WORK/$user.crt")#" \
    -e "s#client-key-data: .*#client-key-data: $(base64 -w0 "$WORK/$user.key")#" \
    "$CLUSTER_DIR/kubeconfig" >"$WORK/$user.kubeconfig"
}

# Waits until the operator is ready: /readyz on the probe port, or a line of its log.
wait_ready() {
  local log_file=$1 i
  for ((i = 0; i < 480; i++)); do
    case $OP_READY in
      readyz) curl -fsS "http://127.0.0.1:$PROBE_PORT/readyz" >/dev/null 2>&1 && return 0 ;;
      log:*) grep -qE "${OP_READY#log:}" "$log_file" && return 0 ;;
      *) die "OP_READY must be readyz or log:REGEX, not $OP_READY" ;;
    esac
    alive "$op_pid" || die "the operator exited: $(tail -5 "$log_file")"
    sleep 0.25
  done
  die "the operator was not ready after 120 s: $(tail -5 "$log_file")"
}

# What a run left behind (with --no-delete, or a failed deletion): its Environments go without
# their finalizers, so the next run's CRDs can replace these.
clear_environments() {
  local envs
  envs=$(K get environments.catalyst.catalyst.dev -A -o name 2>/dev/null | wc -l) || return 0
  ((envs)) || return 0
  log "removing $envs Environments left by the run"
  K get environments.catalyst.catalyst.dev -A -o jsonpath='{range .items[*]}{.metadata.namespace} {.metadata.name}{"\n"}{end}' |
    while read -r ns name; do
      K -n "$ns" patch environments.catalyst.catalyst.dev "$name" --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1 || true
    done
  K delete environments.catalyst.catalyst.dev -A --all --wait=false >/dev/null 2>&1 || true
}

runs=() ops_json=() costs=()
for n in $SIZES; do
  log "N=$n: starting the control plane (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  audit=$WORK/audit-$n.log
  "$REPO/scripts/cluster-up.sh" --audit-log "$audit" >"$WORK/cluster-up-$n.log" 2>&1 ||
    { tail -20 "$WORK/cluster-up-$n.log" >&2; die "cluster-up failed"; }
  pids=()
  for c in kube-apiserver etcd kube-controller-manager kubelet-sim; do
    pids+=("--pid=$c:$(cat "$CLUSTER_DIR/$c.pid")")
  done
  applied_crds=''
  for ((r = 0; r < ${#RUNS[@]}; r++)); do
    parse_run "${RUNS[r]}"
    load_def "$RUN_DEF"
    label=$RUN_LABEL
    # A definition's CRDs replace the previous run's when they differ (the same CRD names, another
    # schema): deleted once no Environment is left, then applied.
    if [[ $applied_crds != "${OP_CRDS[*]}" ]]; then
      if [[ -n $applied_crds ]]; then
        clear_environments
        K delete crd "${prev_crd_names[@]}" --ignore-not-found --wait=true --timeout=180s >/dev/null
      fi
      for f in "${OP_CRDS[@]}"; do K apply -f "$f" >/dev/null; done
      for c in "${OP_CRD_NAMES[@]}"; do K wait --for condition=established --timeout=60s "crd/$c" >/dev/null; done
      applied_crds="${OP_CRDS[*]}" prev_crd_names=("${OP_CRD_NAMES[@]}")
    fi
    user=bench-$(tr -c 'a-z0-9\n' '-' <<<"$label")
    identity "$user"
    op_rbac "$user" "$user"
    op_command "$WORK/$user.kubeconfig" "$METRICS_PORT" "$PROBE_PORT"
    op_env=()
    if [[ $(basename "$DEF_FILE") == kube-operator.sh ]]; then
      # shellcheck disable=SC2206 # word-split on purpose
      OP_CMD+=($OPERATOR_ARGS) op_env=($OPERATOR_ENV)
    fi
    OP_CMD+=("${RUN_ARGS[@]}")
    ns=bench$( ((r == 0)) || echo $((r + 1)))
    op_log=$WORK/operator-$n-$label.log
    log "N=$n [$label]: starting ${OP_CMD[*]} (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    env "${op_env[@]}" "${OP_CMD[@]}" >"$op_log" 2>&1 </dev/null &
    op_pid=$!
    wait_ready "$op_log"
    log "N=$n [$label]: operator ready (pid $op_pid); running the driver"
    metrics_url=''
    ((OP_METRICS)) && metrics_url=http://127.0.0.1:$METRICS_PORT/metrics
    "$DRIVER" --kubeconfig="$CLUSTER_DIR/kubeconfig" --n="$n" --operator-pid="$op_pid" --label="$label" \
      --namespace="$ns" --managed-by="$OP_MANAGED_BY" "${pids[@]}" --metrics-url="$metrics_url" \
      --sim-pid="$(cat "$CLUSTER_DIR/kubelet-sim.pid")" --audit-log="$audit" --operator-user="$user" \
      --steady-seconds="$STEADY" --probes="$PROBES" --delete="$DELETE" --out="$WORK/run-$n-$label.json" \
      --series="$WORK/series-$n-$label.tsv" ||
      log "N=$n [$label]: the driver reported a failure (partial results kept)"
    [[ -s $WORK/run-$n-$label.json ]] && runs+=("$(cat "$WORK/run-$n-$label.json")")
    series=${OUT%.json}.series-$n.tsv
    ((${#RUNS[@]} == 1)) || series=${OUT%.json}.series-$n-$label.tsv
    [[ -s $WORK/series-$n-$label.tsv ]] && cp "$WORK/series-$n-$label.tsv" "$series"
    alive "$op_pid" || log "N=$n [$label]: the operator died: $(tail -5 "$op_log")"
    stop_operator
    if [[ $n == "${SIZES%% *}" ]]; then
      ops_json+=("{\"label\":\"$label\",\"definition\":\"$DEF_FILE\",\"binary\":\"${OP_CMD[0]}\",\"sha256\":\"$(sha256sum "${OP_CMD[0]}" | cut -c1-16)\",\"command\":\"${OP_CMD[*]:1}\",\"env\":\"${op_env[*]}\"}")
    fi
    ((DELETE)) || clear_environments
  done
  if ((REQUEST_COSTS)); then
    log "N=$n: request costs (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    "$COST_DRIVER" --kubeconfig="$CLUSTER_DIR/kubeconfig" --out="$WORK/costs-$n.json" --n="${REQUEST_COSTS_N:-300}" \
      --apiserver-pid="$(cat "$CLUSTER_DIR/kube-apiserver.pid")" --etcd-pid="$(cat "$CLUSTER_DIR/etcd.pid")" \
      --pause-pid="$(cat "$CLUSTER_DIR/kube-controller-manager.pid")" --pause-pid="$(cat "$CLUSTER_DIR/kubelet-sim.pid")" ||
      log "N=$n: request_cost_bench failed"
    [[ -s $WORK/costs-$n.json ]] && costs+=("$(cat "$WORK/costs-$n.json")")
  fi
  cleanup
  ((KEEP_LOGS)) || rm -f "$audit"
done

rev=${BENCH_REV:-$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)}
joined=$(IFS=,; echo "${runs[*]}")
ops_joined=$(IFS=,; echo "${ops_json[*]}")
costs_joined=$(IFS=,; echo "${costs[*]}")
cat >"$OUT" <<EOF2
{"date":"$STAMP","git":"$rev","machine":{"nproc":$(nproc),"cpu":"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)","kernel":"$(uname -r)","mem_mib":$(($(awk '/MemTotal/{print $2}' /proc/meminfo) / 1024)),"loadavg_end":"$(cut -d' ' -f1-3 /proc/loadavg)"},
 "operator":{"binary":"$KUBE_OPERATOR_BIN","sha256":"$(sha256sum "$KUBE_OPERATOR_BIN" 2>/dev/null | cut -c1-16)","args":"$OPERATOR_ARGS","env":"$OPERATOR_ENV"},
 "operators":[$ops_joined],"reference":"$REFERENCE","request_costs":[$costs_joined],
 "kcm_extra_args":"$KCM_EXTRA_ARGS","kubelet_sim_extra_args":"$KUBELET_SIM_EXTRA_ARGS",
 "runs":[$joined]}
EOF2
log "results: $OUT"
python3 "$REPO/bench/summary.py" "$OUT"

# Chart: Ready Environments and operator RSS against time, one line per N and operator.
png=${OUT%.json}.png
plots_ready='' plots_rss=''
for f in "${OUT%.json}".series-*.tsv; do
  [[ -s $f ]] || continue
  t=${f#"${OUT%.json}".series-}
  t=${t%.tsv}
  plots_ready+="${plots_ready:+, }'$f' using 1:4 with lines lw 2 title 'N=$t'"
  plots_rss+="${plots_rss:+, }'$f' using 1:3 with lines lw 2 title 'N=$t'"
done
if [[ -n $plots_ready ]]; then
  gnuplot <<EOF2
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
EOF2
  log "chart: $png"
fi
if ((KEEP_LOGS)); then log "logs and series kept in $WORK"; else rm -rf "$WORK"; fi
