// The git-clone init container's script (PRODUCT.md "Reconciliation" 6).
#pragma once

namespace controllers {

// Run as `sh -c <script> git-clone <url> <branch> <sha> <dest>`: checks out
// <sha> if set, else the tip of <branch>, else the remote's default branch,
// into <dest> (a volume's mount root or a directory on it). The URL, branch
// and sha arrive as positional parameters, never spliced into the script.
// A rerun (a restarted or rolled pod on the same volume) reuses the
// repository and ends on a clean tree: everything untracked is removed
// except lost+found (a fresh volume's) and .npm (npm's cache). A full
// 40-digit sha is fetched on its own (GitHub and GitLab allow it); a short
// one needs the branches and tags. Failures name what was not found: the
// pod's termination message carries it into the Environment's status.
inline constexpr char kGitCloneScript[] = R"(set -eu
url=$1 branch=$2 sha=$3 dest=$4
mkdir -p "$dest"
cd "$dest"
export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0="$dest"
[ -d .git ] || git init -q .
git remote remove origin 2>/dev/null || true
git remote add origin "$url"
if [ -n "$sha" ]; then
  if [ ${#sha} -eq 40 ] && git fetch -q --depth 1 origin "$sha"; then :; else
    git fetch -q --tags origin '+refs/heads/*:refs/remotes/origin/*'
  fi
  git rev-parse -q --verify "$sha^{commit}" >/dev/null ||
    { echo "commit $sha not found in $url" >&2; exit 1; }
  ref=$sha
elif [ -n "$branch" ]; then
  git fetch -q --depth 1 origin "+refs/heads/$branch:refs/remotes/origin/$branch" ||
    { echo "branch $branch not found in $url" >&2; exit 1; }
  ref=refs/remotes/origin/$branch
else
  git fetch -q --depth 1 origin HEAD
  ref=FETCH_HEAD
fi
git checkout -q -f --detach "$ref"
git clean -q -ffdx -e lost+found -e .npm
)";

}  // namespace controllers
