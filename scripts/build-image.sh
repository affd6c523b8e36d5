#!/usr/bin/env bash
# Builds deploy/Dockerfile into an OCI image without a Docker engine, then runs
# the image's binary: `--version`, and (with a kubeconfig) against that control
# plane until /readyz answers 200.
#
# How, as root in a sandbox without user namespaces or overlay mounts:
#   - buildah (Debian's) with the vfs storage driver and chroot isolation: no
#     daemon, no overlayfs, no new user namespace (the RUN steps are chroots).
#   - The base image `debian:bookworm-slim` is made here with mmdebstrap
#     (minbase, from Debian's archive, docs and man pages left out as the slim
#     image does) and imported under that name into a private storage root, so
#     nothing is pulled from a registry.
#   - Base tarball and storage are cached under $KUBE_OPERATOR_CACHE/image;
#     a rebuild reuses the apt layers (--layers).
# The run in the image uses leader election on a Lease this script creates and
# holds for an hour (holder "build-image.sh"): the binary stays a standby, so it
# reads (informers, /readyz) but never reconciles anything on that cluster.
#
# Usage: scripts/build-image.sh [--kubeconfig FILE] [--tag NAME] [--lease-namespace NS] [--no-run] [--prune]
#   --prune: first remove untagged images (earlier builds' stages and layer cache: vfs copies
#            every layer whole, ~1-2 GB a build); the apt layers are then built again.
# Env:   KUBE_OPERATOR_CACHE (base tarball, buildah storage; default ~/.cache/kube-operator)
# Prints the build time and image size; `buildah push` (same --root/--runroot,
# printed at the end) sends the image to a registry.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
. "$REPO/scripts/lib.sh"

KUBECONFIG_FILE=""
TAG=""
LEASE_NS=default
RUN=1
PRUNE=0
while (($#)); do
  case $1 in
    --kubeconfig) KUBECONFIG_FILE=$2; shift 2 ;;
    --tag) TAG=$2; shift 2 ;;
    --lease-namespace) LEASE_NS=$2; shift 2 ;;
    --no-run) RUN=0; shift ;;
    --prune) PRUNE=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (--help)" ;;
  esac
done

IMAGE_CACHE=$CACHE/image
mkdir -p "$IMAGE_CACHE"
missing=()
for p in buildah mmdebstrap; do command -v "$p" >/dev/null || missing+=("$p"); done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null ||
    { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
fi

# A private storage root: the vfs driver copies every layer whole (no overlay
# mounts here), which is slow and large but needs nothing from the kernel.
export STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot
BUILDAH=(buildah --root "$IMAGE_CACHE/storage" --runroot "$IMAGE_CACHE/run" --storage-driver vfs)
BASE=docker.io/library/debian:bookworm-slim

if ((PRUNE)); then
  log "removing untagged images"
  "${BUILDAH[@]}" rmi --prune >/dev/null || true
fi

# --- the base image ------------------------------------------------------------------------------
BASE_TAR=$IMAGE_CACHE/bookworm-minbase.tar
if [[ ! -s $BASE_TAR ]]; then
  log "mmdebstrap bookworm (minbase) -> $BASE_TAR"
  MIRROR=http://deb.debian.org/debian
  mmdebstrap --variant=minbase --mode=root \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    bookworm "$BASE_TAR.part.tar" \
    "deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main" \
    "deb http://deb.debian.org/debian-security bookworm-security main" >"$IMAGE_CACHE/mmdebstrap.log" 2>&1 ||
    { tail -n 30 "$IMAGE_CACHE/mmdebstrap.log"; die "mmdebstrap failed (log: $IMAGE_CACHE/mmdebstrap.log)"; }
  mv "$BASE_TAR.part.tar" "$BASE_TAR"
  "${BUILDAH[@]}" rmi "$BASE" >/dev/null 2>&1 || true
fi
if ! "${BUILDAH[@]}" inspect --type image "$BASE" >/dev/null 2>&1; then
  log "importing $BASE_TAR as $BASE"
  ctr=$("${BUILDAH[@]}" from scratch)
  "${BUILDAH[@]}" add "$ctr" "$BASE_TAR" / >/dev/null
  "${BUILDAH[@]}" config --cmd /bin/bash \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$ctr"
  "${BUILDAH[@]}" commit --rm "$ctr" "$BASE" >/dev/null
fi

# --- the image -----------------------------------------------------------------------------------
# One place each: the version is meson.build's, the revision git's (the same
# command meson's vcs_tag runs, so the label and --version agree).
VERSION=$(meson introspect --projectinfo "$REPO/meson.build" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')
REVISION=$(git -C "$REPO" describe --always --dirty --abbrev=12 --exclude='*' 2>/dev/null || echo unknown)
SOURCE=$(git -C "$REPO" remote get-url origin 2>/dev/null ||
  sed -n '/^sources:/{n;s/^ *- *//p;}' "$REPO/deploy/kube-operator/Chart.yaml")
TAG=${TAG:-localhost/kube-operator:$VERSION}
log "building $TAG (version $VERSION, revision $REVISION)"
t0=$SECONDS
# helm for helm mode (deploy/Dockerfile): the cached one, into the build context.
"$REPO/scripts/fetch-kubectl-helm.sh"
mkdir -p "$REPO/.image" && install -m 0755 "$TOOLS_BIN/helm" "$REPO/.image/helm"
"${BUILDAH[@]}" bud --isolation chroot --layers --pull=never \
  --build-arg VERSION="$VERSION" --build-arg REVISION="$REVISION" --build-arg SOURCE="$SOURCE" \
  -f "$REPO/deploy/Dockerfile" -t "$TAG" "$REPO" >"$IMAGE_CACHE/build.log" 2>&1 ||
  { tail -n 40 "$IMAGE_CACHE/build.log"; die "image build failed (log: $IMAGE_CACHE/build.log)"; }
BUILD_SECONDS=$((SECONDS - t0))
SIZE=$("${BUILDAH[@]}" images --format '{{.Size}}' "$TAG" | head -n 1)
log "built $TAG in ${BUILD_SECONDS}s, $SIZE"
# shellcheck disable=SC2016 # a Go template, not shell
"${BUILDAH[@]}" inspect --type image --format '{{range $k, $v := .OCIv1.Config.Labels}}{{$k}}={{$v}}{{"\n"}}{{end}}' "$TAG" |
  grep '^org.opencontainers' >&2
user=$("${BUILDAH[@]}" inspect --type image --format '{{.OCIv1.Config.User}}' "$TAG")
[[ $user == 65532:65532 ]] || die "image user is \"$user\", want 65532:65532"

((RUN)) || exit 0

# --- run it --------------------------------------------------------------------------------------
ctr=$("${BUILDAH[@]}" from --pull=never "$TAG")
TMP=$(mktemp -d)
chmod 0755 "$TMP" # uid 65532 in the image reads the kubeconfig through it
OP_PID=""
LEASE=""
cleanup() {
  if [[ -n $OP_PID ]] && alive "$OP_PID"; then kill "$OP_PID" 2>/dev/null || true; fi
  if [[ -n $LEASE ]]; then
    "$KUBECTL" --kubeconfig "$KUBECONFIG_FILE" -n "$LEASE_NS" delete lease "$LEASE" --ignore-not-found >/dev/null 2>&1 || true
  fi
  "${BUILDAH[@]}" rm "$ctr" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

out=$("${BUILDAH[@]}" run --isolation chroot "$ctr" -- /usr/local/bin/kube-operator --version)
echo "$out" >&2
[[ $out == "kube-operator $VERSION (revision $REVISION,"* ]] ||
  die "--version says \"$out\", want version $VERSION revision $REVISION"
uid=$("${BUILDAH[@]}" run --isolation chroot "$ctr" -- /usr/bin/id -u)
[[ $uid == 65532 ]] || die "the image runs as uid $uid, want 65532"

if [[ -z $KUBECONFIG_FILE ]]; then
  log "no --kubeconfig: not run against a control plane"
  exit 0
fi
KUBECTL=$(command -v kubectl || echo "$BIN/kubectl")
[[ -x $KUBECTL ]] || die "kubectl missing (scripts/fetch-kubectl-helm.sh)"
# Readable by uid 65532, whatever the original's mode.
install -m 0644 "$KUBECONFIG_FILE" "$TMP/kubeconfig"
LEASE=kube-operator-image-check-$RANDOM
now=$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)
"$KUBECTL" --kubeconfig "$KUBECONFIG_FILE" -n "$LEASE_NS" apply -f - >/dev/null <<EOF
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: $LEASE
spec:
  holderIdentity: build-image.sh
  leaseDurationSeconds: 3600
  acquireTime: "$now"
  renewTime: "$now"
EOF
# image_process PID COMM: the pid of the descendant of PID named COMM (the
# binary that buildah run started), "" if none.
image_process() {
  local pids=("$1") p child=()
  while ((${#pids[@]})); do
    p=${pids[0]}
    pids=("${pids[@]:1}")
    [[ $(cat "/proc/$p/comm" 2>/dev/null) == "$2" ]] && { echo "$p"; return; }
    read -r -a child < <(cat "/proc/$p/task/"*/children 2>/dev/null; echo)
    pids+=("${child[@]}")
  done
}
# Free loopback ports: the kernel's pick, released at once.
read -r P_METRICS P_PROBE < <(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1", 0)) for x in s]
print(*[x.getsockname()[1] for x in s])')
# chroot isolation shares the host's network: the API server on loopback answers.
"${BUILDAH[@]}" run --isolation chroot --network host -v "$TMP:/config:ro" "$ctr" -- \
  /usr/local/bin/kube-operator --kubeconfig /config/kubeconfig \
  --metrics-bind-address "127.0.0.1:$P_METRICS" --health-probe-bind-address "127.0.0.1:$P_PROBE" \
  --leader-elect --leader-election-namespace "$LEASE_NS" --leader-election-id "$LEASE" \
  >"$TMP/operator.log" 2>&1 &
OP_PID=$!
t0=$SECONDS
code=""
while ((SECONDS - t0 < 120)); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P_PROBE/readyz" || true)
  [[ $code == 200 ]] && break
  alive "$OP_PID" || { cat "$TMP/operator.log" >&2; die "the operator in the image exited"; }
  sleep 0.5
done
[[ $code == 200 ]] || { tail -n 20 "$TMP/operator.log" >&2; die "/readyz never answered 200 (last: $code)"; }
log "/readyz 200 after $((SECONDS - t0))s from the image (standby on Lease $LEASE_NS/$LEASE)"
# SIGTERM goes to the binary itself: buildah's chroot runtime does not forward
# it (it SIGKILLs its child), and a clean stop (lease released, "stopped"
# logged) is part of what is checked.
op=$(image_process "$OP_PID" kube-operator)
[[ -n $op ]] || die "no kube-operator process under buildah run ($OP_PID)"
kill -TERM "$op"
t0=$SECONDS
while alive "$OP_PID" && ((SECONDS - t0 < 30)); do sleep 0.2; done
alive "$OP_PID" && die "the operator did not stop within 30s of SIGTERM"
wait "$OP_PID" || true
grep -q '"msg":"stopped"' "$TMP/operator.log" || { tail -n 5 "$TMP/operator.log" >&2; die "no clean stop in the log"; }
OP_PID=""
log "stopped cleanly; image $TAG ok (build ${BUILD_SECONDS}s, $SIZE; cache $(du -sh "$IMAGE_CACHE" | cut -f1), --prune frees it)"
echo "push: ${BUILDAH[*]} push $TAG docker://<registry>/kube-operator:$VERSION" >&2
