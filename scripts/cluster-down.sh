#!/usr/bin/env bash
# Stops the local cluster started by cluster-up.sh: only the processes recorded in
# $CLUSTER_DIR/*.pid (TERM, then KILL after STOP_TIMEOUT s). Logs are kept; --purge removes $CLUSTER_DIR.
# Usage: scripts/cluster-down.sh [--purge]
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
. "$REPO/scripts/lib.sh"

CLUSTER_DIR=${CLUSTER_DIR:-/tmp/kube-operator-cluster}
STOP_TIMEOUT=${STOP_TIMEOUT:-15}
PURGE=0
case ${1:-} in
  '') ;;
  --purge) PURGE=1 ;;
  *) die "usage: $0 [--purge]" ;;
esac
D=$CLUSTER_DIR
[[ -d $D ]] || { log "nothing to stop: $D does not exist"; exit 0; }

# Clients first, etcd last, so nothing spends its shutdown retrying a dead dependency.
pids=()
# kube-operator is there when scripts/demo.sh started one.
for name in kube-operator kubelet-sim kube-controller-manager kube-apiserver etcd; do
  f=$D/$name.pid
  [[ -f $f ]] || continue
  pid=$(cat "$f")
  # Guard against PID reuse: only signal a live process that still runs this component's binary.
  if alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$name"; then
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    pids+=("$pid")
  fi
  rm -f "$f"
done

deadline=$((SECONDS + STOP_TIMEOUT))
for pid in "${pids[@]}"; do
  while alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
  if alive "$pid"; then
    log "pid $pid ignored TERM for ${STOP_TIMEOUT}s; killing"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do alive "$pid" || break; sleep 0.1; done
  fi
done

if ((PURGE)); then
  # Same guard as cluster-up.sh: only remove a directory it created.
  [[ -f $D/.kube-operator-cluster ]] || die "$D was not created by cluster-up.sh; not removing it"
  rm -rf "$D"
  log "removed $D"
else
  log "stopped; logs kept in $D"
fi
