#!/usr/bin/env bash
# Self-test of tests/webapp/standin.py against a running local control plane.
#   CLUSTER_DIR=/tmp/kc137 PATH=~/.cache/kube-operator/k8s-1.37/bin:$PATH tests/webapp/selftest.sh
# Needs: $CLUSTER_DIR/kubeconfig (admin), kubectl on PATH, python3, git, curl.
# Creates three namespaces and a Project (and applies crds/ if absent), removes them afterwards.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
: "${CLUSTER_DIR:?set CLUSTER_DIR (the control plane of scripts/cluster-up.sh)}"
KC=$CLUSTER_DIR/kubeconfig
k() { kubectl --kubeconfig "$KC" "$@"; }

command -v kubectl >/dev/null || { echo "selftest: kubectl not on PATH" >&2; exit 2; }
[[ -f $KC ]] || { echo "selftest: no kubeconfig at $KC" >&2; exit 2; }
k get --raw /readyz >/dev/null 2>&1 || { echo "selftest: control plane at $CLUSTER_DIR not reachable" >&2; exit 2; }

SUFFIX=$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')
TEAM=wa-team-$SUFFIX
ENV_NS=wa-env-$SUFFIX
BARE_NS=wa-nolabel-$SUFFIX
PROJECT=proj
T=$(mktemp -d /tmp/standin-selftest.XXXXXX)
PIDS=()
CRDS_CREATED=0

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  k delete namespace "$TEAM" "$ENV_NS" "$BARE_NS" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  if ((CRDS_CREATED)); then k delete -f "$REPO/crds/" --ignore-not-found --wait=false >/dev/null 2>&1 || true; fi
  rm -rf "$T"
}
trap cleanup EXIT

FAILS=0
pass() { printf 'ok    %s\n' "$1"; }
fail() { printf 'FAIL  %s\n' "$1"; FAILS=$((FAILS + 1)); }
# expect NAME WANT GOT
expect() { if [[ $3 == "$2" ]]; then pass "$1"; else fail "$1 (want '$2', got '$3')"; fi; }

# --- cluster fixtures -----------------------------------------------------------------------------
k get crd projects.catalyst.catalyst.dev >/dev/null 2>&1 || CRDS_CREATED=1
k apply -f "$REPO/crds/" >/dev/null
k wait --for=condition=Established crd/projects.catalyst.catalyst.dev --timeout=60s >/dev/null

k create namespace "$TEAM" >/dev/null
k create namespace "$ENV_NS" >/dev/null
k label namespace "$ENV_NS" "catalyst.dev/team=$TEAM" "catalyst.dev/project=$PROJECT" >/dev/null
k create namespace "$BARE_NS" >/dev/null
set_installation_id() {
  k apply -f - >/dev/null <<EOF
apiVersion: catalyst.catalyst.dev/v1alpha1
kind: Project
metadata:
  name: $PROJECT
  namespace: $TEAM
spec:
  sources:
  - name: primary
    repositoryUrl: http://127.0.0.1/git/app.git
    branch: main
  githubInstallationId: "$1"
EOF
}
set_installation_id 12345

sa_token() { # NS: a token of NS/default (the ServiceAccount appears shortly after the namespace)
  local i
  for ((i = 0; i < 150; i++)); do
    k -n "$1" get serviceaccount default >/dev/null 2>&1 && break
    sleep 0.2
  done
  k create token default -n "$1" --duration 10m
}
SA=$(sa_token "$ENV_NS")
SA_BARE=$(sa_token "$BARE_NS")

# --- git repository -----------------------------------------------------------------------------
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0
export GIT_AUTHOR_NAME=selftest GIT_AUTHOR_EMAIL=selftest@example.invalid
export GIT_COMMITTER_NAME=selftest GIT_COMMITTER_EMAIL=selftest@example.invalid
mkdir -p "$T/root" "$T/work"
git -C "$T/work" init -q -b main
echo "hello from the stand-in" >"$T/work/README"
git -C "$T/work" add README
git -C "$T/work" commit -qm initial
git clone -q --bare "$T/work" "$T/root/app.git"

# --- stand-ins ------------------------------------------------------------------------------------
echo '{"env-1": {"DATABASE_URL": "postgres://selftest-secret-value"}}' >"$T/secrets.json"
# start NAME ARGS...: run standin.py --port 0, set PORT_<NAME>.
start() {
  local name=$1 i port=""; shift
  python3 "$HERE/standin.py" --port 0 --kubeconfig "$KC" --git-root "$T/root" \
    --secrets-file "$T/secrets.json" "$@" >"$T/$name.out" 2>"$T/$name.err" &
  PIDS+=($!)
  for ((i = 0; i < 100; i++)); do
    port=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$T/$name.out")
    [[ -n $port ]] && break
    sleep 0.1
  done
  [[ -n $port ]] || { cat "$T/$name.err" >&2; echo "selftest: $name did not start" >&2; exit 1; }
  printf -v "PORT_$name" '%s' "$port"
}
start main
start pat --pat-mode --pat selftest-pat-value
URL=http://127.0.0.1:$PORT_main
URL_PAT=http://127.0.0.1:$PORT_pat

# get URL [BEARER]: prints "<status> <content-type>", body in $T/body, headers in $T/hdr.
get() {
  local auth=()
  [[ -n ${2:-} ]] && auth=(-H "Authorization: Bearer $2")
  curl -sS -o "$T/body" -D "$T/hdr" -w '%{http_code} %{content_type}' "${auth[@]}" "$1"
}

# --- /api/git-token -------------------------------------------------------------------------------
expect "healthz" "200 text/plain" "$(get "$URL/_healthz")"
expect "git-token right id: 200 text/plain" "200 text/plain" "$(get "$URL/api/git-token/12345" "$SA")"
TOKEN=$(cat "$T/body")
[[ -n $TOKEN && $TOKEN != *$'\n'* && $(tail -c1 "$T/body" | od -An -c | tr -d ' ') != '\n' ]] &&
  pass "git-token body is a bare token" || fail "git-token body is a bare token"
grep -qi '^cache-control: no-store' "$T/hdr" && pass "git-token Cache-Control: no-store" || fail "git-token Cache-Control: no-store"
get "$URL/api/git-token/12345" "$SA" >/dev/null
[[ $(cat "$T/body") != "$TOKEN" ]] && pass "git-token fresh per request" || fail "git-token fresh per request"
expect "git-token wrong id: 403" "403 application/json" "$(get "$URL/api/git-token/54321" "$SA")"
expect "git-token pat, project id 12345: 403" 403 "$(get "$URL/api/git-token/pat" "$SA" | cut -d' ' -f1)"
expect "git-token no auth: 401" "401 application/json" "$(get "$URL/api/git-token/12345")"
expect "git-token bad bearer: 401" 401 "$(get "$URL/api/git-token/12345" not-a-token | cut -d' ' -f1)"
expect "git-token unlabelled namespace: 403" 403 "$(get "$URL/api/git-token/12345" "$SA_BARE" | cut -d' ' -f1)"
set_installation_id pat
expect "git-token pat, PAT mode off: 404" 404 "$(get "$URL/api/git-token/pat" "$SA" | cut -d' ' -f1)"
expect "git-token pat, PAT mode on: 200" "200 text/plain" "$(get "$URL_PAT/api/git-token/pat" "$SA")"
expect "git-token pat body" selftest-pat-value "$(cat "$T/body")"
set_installation_id abc
expect "git-token non-numeric id: 400" 400 "$(get "$URL/api/git-token/abc" "$SA" | cut -d' ' -f1)"
k -n "$TEAM" delete project "$PROJECT" >/dev/null
expect "git-token no Project: 403" 403 "$(get "$URL/api/git-token/12345" "$SA" | cut -d' ' -f1)"
set_installation_id 12345

# --- git smart HTTP -------------------------------------------------------------------------------
REPO_URL=$URL/git/app.git
if git -c credential.helper= clone -q "$REPO_URL" "$T/c0" 2>/dev/null; then
  fail "git clone without credentials fails"
else pass "git clone without credentials fails"; fi
if git -c credential.helper= -c credential.helper='!f() { echo username=x-access-token; echo password=wrong; }; f' \
  clone -q "$REPO_URL" "$T/c1" 2>/dev/null; then
  fail "git clone with a wrong token fails"
else pass "git clone with a wrong token fails"; fi
# The helper fetches a fresh token from the endpoint, as the credential helper in a pod does.
export SA_TOKEN=$SA GIT_TOKEN_URL=$URL/api/git-token/12345
# shellcheck disable=SC2016 # expanded by the helper's shell
HELPER='!f() { test "$1" = get || exit 0; echo username=x-access-token; echo "password=$(curl -fsS -H "Authorization: Bearer $SA_TOKEN" "$GIT_TOKEN_URL")"; }; f'
if git -c credential.helper= -c credential.helper="$HELPER" clone -q "$REPO_URL" "$T/c2" &&
  [[ $(cat "$T/c2/README") == "hello from the stand-in" ]]; then
  pass "git clone with the credential helper"
else fail "git clone with the credential helper"; fi
# A push of >1 MiB: git sends the POST body chunked.
head -c 3000000 /dev/urandom >"$T/c2/blob.bin"
git -C "$T/c2" add blob.bin && git -C "$T/c2" commit -qm blob
if git -C "$T/c2" -c credential.helper= -c credential.helper="$HELPER" push -q origin main 2>"$T/push.err" &&
  git -c credential.helper= -c credential.helper="$HELPER" clone -q "$REPO_URL" "$T/c3" &&
  cmp -s "$T/c2/blob.bin" "$T/c3/blob.bin"; then
  pass "git push (chunked POST) and fetch of 3 MB"
else cat "$T/push.err"; fail "git push (chunked POST) and fetch of 3 MB"; fi

# --- /api/internal/secrets ------------------------------------------------------------------------
expect "secrets known id: 200 JSON" "200 application/json" "$(get "$URL/api/internal/secrets/env-1" "$SA")"
expect "secrets body" postgres://selftest-secret-value \
  "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["secrets"]["DATABASE_URL"])' "$T/body")"
expect "secrets unknown id: 404" "404 application/json" "$(get "$URL/api/internal/secrets/env-2" "$SA")"
expect "secrets 404 body" '{"error": "Environment not found"}' "$(cat "$T/body")"
expect "secrets no auth: 401" 401 "$(get "$URL/api/internal/secrets/env-1" | cut -d' ' -f1)"
expect "secrets bad bearer: 401" 401 "$(get "$URL/api/internal/secrets/env-1" not-a-token | cut -d' ' -f1)"
echo '{"__status__": 500}' >"$T/secrets.json.tmp" && mv "$T/secrets.json.tmp" "$T/secrets.json"
expect "secrets __status__ 500: 500" 500 "$(get "$URL/api/internal/secrets/env-1" "$SA" | cut -d' ' -f1)"
echo '{"env-2": {"K": "v"}}' >"$T/secrets.json.tmp" && mv "$T/secrets.json.tmp" "$T/secrets.json"
expect "secrets file re-read: env-2 200" 200 "$(get "$URL/api/internal/secrets/env-2" "$SA" | cut -d' ' -f1)"

# --- /_stats, logs, SIGTERM -----------------------------------------------------------------------
get "$URL/_stats" >/dev/null
STATS=$(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["requests"]
print(r.get("/api/git-token/12345 200", 0) >= 2, r.get("/api/git-token/54321 403", 0),
      r.get("/git/app.git/info/refs 401", 0) >= 1, r.get("/api/internal/secrets/env-1 500", 0))' "$T/body")
expect "_stats counts" "True 1 True 1" "$STATS"
LEAKED=0
for s in "$TOKEN" "$SA" "$SA_BARE" selftest-pat-value selftest-secret-value; do
  grep -qF -- "$s" "$T/main.err" "$T/pat.err" && LEAKED=1
done
expect "no token or secret in the logs" 0 "$LEAKED"
[[ $(wc -l <"$T/main.out") == 1 ]] && pass "exactly one line on stdout" || fail "exactly one line on stdout"
kill -TERM "${PIDS[0]}"
RC=0; wait "${PIDS[0]}" || RC=$?
expect "exit 0 on SIGTERM" 0 "$RC"

if ((FAILS)); then echo "selftest: $FAILS check(s) failed; stand-in log:"; cat "$T/main.err"; exit 1; fi
echo "selftest: all checks passed"
