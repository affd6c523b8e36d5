#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run): checks docs/architecture.md's
# include rules, installs what is missing,
# builds the Kubernetes binaries (cached outside the repo) and three builds of
# the project (plain, ASan+UBSan, TSan), runs unit, concurrency and fuzz tests,
# then the e2e suites on a private control plane of each Kubernetes lane
# (1.37: everything, plain and ASan; 1.35, the oldest supported: the real
# client and lifecycle suites), and prints a summary.
#
# Usage: scripts/test.sh [--unit-only]
# Env:   KUBE_OPERATOR_CACHE (Kubernetes binaries),
#        TEST_APISERVER_PORT (26443); gtest itself honours GTEST_FILTER
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
. "$REPO/scripts/lib.sh"
cd "$REPO"

UNIT_ONLY=0
[[ ${1:-} == --unit-only ]] && UNIT_ONLY=1

# docs/architecture.md's rules on includes (layers, networking headers, RapidJSON): no build needed.
"$REPO/scripts/check-architecture.sh" || die "scripts/check-architecture.sh failed"
"$REPO/scripts/install-deps.sh"
# --unit-only builds no Kubernetes, but the Helm chart check below needs helm and kubectl.
"$REPO/scripts/fetch-kubectl-helm.sh"
# The Kubernetes builds (Go, cold ~10 min a release) run beside the C++ builds below: two
# cores are busier that way than with one build after the other. Waited for before the e2e lanes.
KUBE_BUILD_PID=
if ((!UNIT_ONLY)); then
  KUBE_BUILD_LOG=$(mktemp /tmp/kube-operator-build-kube.XXXXXX)
  "$REPO/scripts/build-kube.sh" "$KUBE_DEFAULT_VERSION" "$KUBE_MIN_VERSION" >"$KUBE_BUILD_LOG" 2>&1 &
  KUBE_BUILD_PID=$!
fi
export PATH=$BIN:$TOOLS_BIN:$PATH # our kubectl, not whatever /usr/bin has

# ccache keeps rebuilds of the slow cpprest unit cheap across runs and clones.
export CCACHE_DIR=${CCACHE_DIR:-$CACHE/ccache}
# CI builds in a fresh clone elsewhere: let it hit the objects of earlier runs.
export CCACHE_NOHASHDIR=true CCACHE_BASEDIR=$REPO
setup() { # dir, meson args...
  local dir=$1
  shift
  [[ -f $dir/build.ninja ]] || meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 ||
    { cat "$dir.setup.log"; die "meson setup $dir failed"; }
}
setup build
setup build-asan -Db_sanitize=address,undefined -Db_lundef=false \
  -Dcpp_args=-fno-sanitize-recover=all -Dbuildtype=debug
setup build-tsan -Db_sanitize=thread -Db_lundef=false -Dbuildtype=debug
# libFuzzer needs clang; the library is instrumented for coverage too. Clang's
# pointer-overflow check trips on RapidJSON 1.1's own stack (arithmetic on its
# initial null pointer, fixed upstream after 1.1): left out for that reason.
CC=clang CXX=clang++ setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
  "-Dcpp_args=['-fsanitize=fuzzer-no-link','-fno-sanitize=pointer-overflow']"
log "compiling (4 builds)"
ninja -C build
ninja -C build-asan
ninja -C build-tsan tests/concurrency_tests
ninja -C build-fuzz tests/watch_decoder_fuzz tests/kubeconfig_fuzz tests/tenant_input_fuzz \
  tests/rendered_fuzz tests/compose_fuzz

RESULTS=$(mktemp -d /tmp/kube-operator-results.XXXXXX)
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
export LSAN_OPTIONS=suppressions=$REPO/tests/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$REPO/tests/tsan.supp
FAILED_RUNS=()
run() { # label, binary, gtest args...
  local label=$1 bin=$2
  shift 2
  log "running $label"
  if ! "$bin" --gtest_output="xml:$RESULTS/$label.xml" --gtest_brief=1 "$@"; then
    FAILED_RUNS+=("$label")
    # A crash writes no XML: count it as one failure so the summary says so.
    [[ -f $RESULTS/$label.xml ]] || echo "<testsuites tests=\"1\" failures=\"1\" name=\"$label\"/>" >"$RESULTS/$label.xml"
  fi
}

run unit build/tests/unit_tests
run unit-asan build-asan/tests/unit_tests
run concurrency build/tests/concurrency_tests
run concurrency-asan build-asan/tests/concurrency_tests
run concurrency-tsan build-tsan/tests/concurrency_tests

# The Helm chart: lint, render, CRD copy in step (server checks run with the e2e cluster below).
log "checking the Helm chart"
if HELM_CHECK_KUBECONFIG=none "$REPO/scripts/helm-check.sh" >"$RESULTS/helm-check.log" 2>&1; then
  echo '<testsuites tests="1" failures="0" name="helm-chart"/>' >"$RESULTS/helm-chart.xml"
else
  cat "$RESULTS/helm-check.log"
  FAILED_RUNS+=(helm-chart)
  echo '<testsuites tests="1" failures="1" name="helm-chart"/>' >"$RESULTS/helm-chart.xml"
fi

# Fuzz targets, a bounded time each, from the committed corpus (copied: CI
# does not write into the clone). A crash fails the run and keeps the input.
for target in watch_decoder kubeconfig tenant_input rendered compose; do
  log "fuzzing $target for ${FUZZ_SECONDS:-30}s"
  work=$RESULTS/fuzz-$target
  mkdir -p "$work/corpus"
  cp tests/fuzz/corpus/$target/* "$work/corpus/"
  if build-fuzz/tests/${target}_fuzz -max_total_time="${FUZZ_SECONDS:-30}" -rss_limit_mb=2048 \
    -artifact_prefix="$work/" "$work/corpus" >"$work/log" 2>&1; then
    echo "<testsuites tests=\"1\" failures=\"0\" name=\"fuzz-$target\"/>" >"$RESULTS/fuzz-$target.xml"
    tail -n 1 "$work/log"
  else
    tail -n 30 "$work/log"
    FAILED_RUNS+=("fuzz-$target")
    echo "<testsuites tests=\"1\" failures=\"1\" name=\"fuzz-$target\"/>" >"$RESULTS/fuzz-$target.xml"
  fi
done

# lane VERSION: a private control plane of that Kubernetes release on its own ports (a developer's
# cluster can stay up), left running for the suites that follow; the previous lane's is stopped.
lane() {
  if [[ -n ${CLUSTER_DIR:-} ]]; then "$REPO/scripts/cluster-down.sh" >/dev/null 2>&1 || true; fi
  export KUBE_VERSION=$1 CLUSTER_DIR=$RESULTS/cluster-$1
  export BIN=$CACHE/k8s-$1/bin PATH=$CACHE/k8s-$1/bin:$PATH
  # The audit log lets e2e tests see exactly what the operator sent (RBAC, fencing).
  "$REPO/scripts/cluster-up.sh" --audit-log "$CLUSTER_DIR/audit.log" >"$RESULTS/cluster-up-$1.log" 2>&1 ||
    { cat "$RESULTS/cluster-up-$1.log"; die "control plane $1 did not start"; }
  log "Kubernetes $("$BIN/kube-apiserver" --version | awk '{print $2}') up"
}

if ((!UNIT_ONLY)); then
  wait "$KUBE_BUILD_PID" || { cat "$KUBE_BUILD_LOG"; die "scripts/build-kube.sh failed"; }
  cat "$KUBE_BUILD_LOG" >&2
  unset CLUSTER_DIR
  export APISERVER_PORT=${TEST_APISERVER_PORT:-26443} ETCD_CLIENT_PORT=${TEST_ETCD_CLIENT_PORT:-24790} \
    ETCD_PEER_PORT=${TEST_ETCD_PEER_PORT:-24800}
  trap '[[ -n ${CLUSTER_DIR:-} ]] && "$REPO/scripts/cluster-down.sh" >/dev/null 2>&1 || true' EXIT
  lane "$KUBE_DEFAULT_VERSION"
  run e2e build/tests/e2e_tests
  # The two load tests measure (1,000 bad Environments; 50 while the web app is down): the plain
  # run has them; under ASan they would only add minutes to the same code paths.
  run e2e-asan build-asan/tests/e2e_tests \
    --gtest_filter='-BadInputE2E.AThousandOdd*:WebAppE2E.AWebAppThatIsDown*'
  # The chart's manifests against the real API server (dry run: nothing left behind).
  if HELM_CHECK_KUBECONFIG=$CLUSTER_DIR/kubeconfig "$REPO/scripts/helm-check.sh" >"$RESULTS/helm-server.log" 2>&1; then
    echo '<testsuites tests="1" failures="0" name="helm-server"/>' >"$RESULTS/helm-server.xml"
  else
    cat "$RESULTS/helm-server.log"
    FAILED_RUNS+=(helm-server)
    echo '<testsuites tests="1" failures="1" name="helm-server"/>' >"$RESULTS/helm-server.xml"
  fi
  # The oldest supported release: what the web app sends, and the lifecycle.
  lane "$KUBE_MIN_VERSION"
  run "e2e-$KUBE_MIN_VERSION" build/tests/e2e_tests --gtest_filter='RealClientE2E.*:LifecycleE2E.*'
fi

python3 - "$RESULTS" <<'PY'
import glob, os, sys, xml.etree.ElementTree as ET
total_pass = total_fail = 0
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.xml"))):
    root = ET.parse(path).getroot()
    tests, failures, errors = (int(root.get(k, 0)) for k in ("tests", "failures", "errors"))
    skipped = int(root.get("skipped", 0)) + int(root.get("disabled", 0))
    failed = failures + errors
    passed = tests - failed - skipped
    total_pass += passed
    total_fail += failed
    if tests == 0:  # a binary that ran nothing is a broken run, not a pass
        failed, total_fail = 1, total_fail + 1
    print(f"  {os.path.basename(path)[:-4]:<18} {passed:4d} passed, {failed} failed")
    for case in root.iter("testcase"):
        if case.find("failure") is not None:
            print(f"      FAILED {case.get('classname')}.{case.get('name')}")
print(f"{total_pass} passed, {total_fail} failed")
PY
((${#FAILED_RUNS[@]} == 0)) || die "failed: ${FAILED_RUNS[*]}"
