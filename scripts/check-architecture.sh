#!/usr/bin/env bash
# The rules docs/architecture.md states about src/, checked from the sources
# alone (no build, well under a second), so the document stays true:
#   - the folders' layers: a folder includes its own headers and those of the
#     layers below it, never a sibling's in its layer or one above;
#   - cpprest, pplx and Boost (slow to compile) only in the files allowed below;
#   - RapidJSON outside src/kube only in the files allowed below.
# Each allowlist is exact: a listed file that no longer needs the library fails
# too, so that the list (and the document's copy of it) shrinks with the code.
# Prints every violation (file:line and the include) and exits 1 if any.
#
# Usage: scripts/check-architecture.sh
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
. "$REPO/scripts/lib.sh"
cd "$REPO/src"

# Top first (docs/architecture.md, "Folders"). main.cc stands above them all.
LAYERS=(
  "manager"
  "controllers ops leaderelection"
  "api informer"
  "kube workqueue"
  "util"
)
# Where a networking header may be included (~20 s a unit to compile).
NETWORKING_ALLOWED=(
  kube/cpprest_transport.cc # cpprest: the Transport behind kube::Client
  ops/http_server.cc        # Boost.Beast: /metrics, /healthz, /readyz
)
# Where RapidJSON may be included or named outside src/kube.
RAPIDJSON_ALLOWED=(
  api/v1alpha1/config.cc # parsing the custom resources into types
  api/v1alpha1/config.h
  api/v1alpha1/environment.cc
  api/v1alpha1/problems.cc
  api/v1alpha1/problems.h
  api/v1alpha1/project.cc
  controllers/environment/build_result.cc    # a build Job's pods walked
  controllers/environment/cache_transform.cc # what a cache keeps of an object
  controllers/environment/diagnosis.cc       # pods and ReplicaSets walked
  controllers/environment/planner.cc         # the desired-hash annotation on an apply body
  controllers/environment/rendered.cc        # a rendered chart's YAML parsed and checked
  controllers/environment/manifests_rendered.cc  # the operator's labels added to a chart's object
  controllers/environment/secrets_sync.cc    # the web app's answer parsed
  leaderelection/lease_lock.cc               # the Lease written
  ops/metrics_auth.cc                        # TokenReview answers walked
  util/log.cc                                # the JSON log writer
)

ERRORS=0
fail() {
  printf '%s\n' "$*" >&2
  ERRORS=$((ERRORS + 1))
}

declare -A LAYER_OF
for i in "${!LAYERS[@]}"; do
  for folder in ${LAYERS[$i]}; do LAYER_OF[$folder]=$i; done
done
for dir in */; do
  dir=${dir%/}
  [[ -n ${LAYER_OF[$dir]:-} ]] || fail "src/$dir/: a folder in no layer (add it to LAYERS here and to docs/architecture.md)"
done

# 1. The layers, from every `#include "folder/..."` of src/.
while IFS=: read -r file line text; do
  file=${file#./}
  [[ $file == */* ]] || continue # main.cc may include anything
  from=${file%%/*}
  path=${text#*\"}
  path=${path%%\"*}
  if [[ $path == */* ]]; then
    to=${path%%/*}
  elif [[ $path == build_info.h ]]; then
    to=ops # generated from ops/build_info.h.in
  else
    continue
  fi
  [[ -n ${LAYER_OF[$to]:-} && $to != "$from" ]] || continue # third-party, or its own folder
  ((LAYER_OF[$to] > LAYER_OF[$from])) ||
    fail "src/$file:$line: includes \"$path\": $from/ may include only the layers below it (docs/architecture.md, \"Folders\")"
done < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' --include='*.cc' --include='*.h' .)

# check NAME PATTERN SKIP ALLOWED...: the files of src/ (but those under SKIP/; "" skips
# none) with a line matching PATTERN must be exactly ALLOWED; the first line of each is named.
check() {
  local name=$1 pattern=$2 skip=$3 file line text
  shift 3
  local -A allowed=() seen=()
  for file in "$@"; do allowed[$file]=1; done
  while IFS=: read -r file line text; do
    file=${file#./}
    text=${text#"${text%%[![:space:]]*}"} # leading blanks off
    seen[$file]=1
    [[ -n ${allowed[$file]:-} ]] ||
      fail "src/$file:$line: $text: $name outside the files allowed in scripts/check-architecture.sh (docs/architecture.md)"
  done < <(grep -rnE "$pattern" --include='*.cc' --include='*.h' . | grep -v "^\./$skip/" |
    awk -F: '!first[$1]++')
  for file in "$@"; do
    [[ -n ${seen[$file]:-} ]] ||
      fail "src/$file: allowed $name but uses none: take it off the list in scripts/check-architecture.sh and docs/architecture.md"
  done
}
INCLUDE='^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]'
# 2. Networking headers, everywhere (in kube/ too: the transport only).
check "a networking header (cpprest, pplx, Boost)" "$INCLUDE(cpprest|pplx|boost)/" "" \
  "${NETWORKING_ALLOWED[@]}"
# 3. RapidJSON, included or named, outside kube/.
check "RapidJSON" "${INCLUDE}rapidjson/|rapidjson::" kube "${RAPIDJSON_ALLOWED[@]}"

((ERRORS == 0)) || die "$ERRORS violation(s) of docs/architecture.md's rules"
log "ok: layers, networking headers, RapidJSON"
