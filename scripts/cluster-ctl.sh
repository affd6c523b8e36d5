#!/usr/bin/env bash
# Stops or starts one component of the cluster started by cluster-up.sh, with
# the command line it was first started with: fault tests kill and revive the
# API server this way.
#
# Usage: scripts/cluster-ctl.sh stop|kill|start|pause|resume COMPONENT
#   COMPONENT: etcd | kube-apiserver | kube-controller-manager | kubelet-sim
#   stop: TERM and wait; kill: KILL; pause/resume: STOP/CONT (a hung process)
# Env:   CLUSTER_DIR (default /tmp/kube-operator-cluster)
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
. "$REPO/scripts/lib.sh"

D=${CLUSTER_DIR:-/tmp/kube-operator-cluster}
(($# == 2)) || die "usage: $0 stop|kill|start|pause|resume COMPONENT"
action=$1 name=$2
[[ -f $D/$name.cmd ]] || die "no $name started by cluster-up.sh in $D"
pidf=$D/$name.pid

case $action in
  stop | kill)
    pid_alive "$pidf" || exit 0
    pid=$(cat "$pidf")
    kill "-$([[ $action == stop ]] && echo TERM || echo KILL)" "$pid"
    # The API server drains open watches on TERM, which can take long: KILL after 10 s.
    for ((i = 0; i < 100; i++)); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then kill -KILL "$pid"; fi
    for ((i = 0; i < 50; i++)); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then die "$name ($pid) did not stop"; fi
    ;;
  start)
    pid_alive "$pidf" && die "$name is already running"
    rm -f "$pidf"
    mapfile -d '' cmd <"$D/$name.cmd"
    # shellcheck disable=SC2016 # $$, $0 and $@ belong to the inner bash
    setsid bash -c 'echo $$ >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' "$pidf" "${cmd[@]}" \
      >>"$D/$name.log" 2>&1 </dev/null &
    for ((i = 0; i < 50; i++)); do [[ -f $pidf ]] && break; sleep 0.1; done
    [[ -f $pidf ]] || die "$name did not start"
    ;;
  pause) kill -STOP "$(cat "$pidf")" ;;
  resume) kill -CONT "$(cat "$pidf")" ;;
  *) die "unknown action $action" ;;
esac
