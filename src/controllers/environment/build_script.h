// The builder container's script (docs/contract.md, "Image builds"): run as
// `sh -c <script> build <context> <dockerfile> <image>` in --builder-image
// (buildah: rootful, vfs storage, chroot isolation, so it needs no privileged
// pod and no user namespaces; docs/development.md says why not Kaniko or
// BuildKit). It builds the context git-clone checked out, pushes the image,
// and leaves the pushed digest as its termination message, which the
// operator reads back into status.builds[]. A failure's message is the log
// tail (terminationMessagePolicy FallbackToLogsOnError).
#pragma once

namespace controllers {

inline constexpr char kBuildScript[] = R"(set -eu
ctx=$1 file=$2 image=$3
[ -d "$ctx" ] || { echo "build: the context ${ctx#/workspace/src} is not a directory of the repository" >&2; exit 1; }
[ -f "$file" ] || { echo "build: no Dockerfile at ${file#/workspace/src}" >&2; exit 1; }
buildah build --layers=false -f "$file" -t "$image" "$ctx"
buildah push --digestfile /tmp/digest "$image" "docker://$image"
cat /tmp/digest >/dev/termination-log
)";

}  // namespace controllers
