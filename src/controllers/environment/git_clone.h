// The git-clone init container's script and its git credential helper
// (docs/contract.md, "Environment" and "Private repositories").
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
// With CATALYST_INSTALLATION_ID set, git asks kGitCredentialScript (in
// $CATALYST_GIT_CREDENTIAL) for the credentials of every host that wants them.
inline constexpr char kGitCloneScript[] = R"(set -eu
url=$1 branch=$2 sha=$3 dest=$4
mkdir -p "$dest"
cd "$dest"
export GIT_TERMINAL_PROMPT=0 GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0="$dest"
if [ -n "${CATALYST_INSTALLATION_ID:-}" ]; then
  export GIT_CONFIG_COUNT=2 GIT_CONFIG_KEY_1=credential.helper
  export GIT_CONFIG_VALUE_1='!sh -c "$CATALYST_GIT_CREDENTIAL" git-credential-catalyst'
fi
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

// A git credential helper (`get` only): the token of the Project's GitHub App
// installation, from the Catalyst web app's GET /api/git-token/<id>, asked
// with the pod's projected ServiceAccount token; git authenticates as
// x-access-token with it. The token goes to git on stdout and nowhere else
// (no file, no log). Every failure names the step and the cause on stderr,
// which git prints and the pod's termination message carries into the
// Environment's status. Env: CATALYST_WEB_URL, CATALYST_INSTALLATION_ID,
// CATALYST_TOKEN_FILE. curl where the image has it, else busybox wget.
inline constexpr char kGitCredentialScript[] = R"sh(set -u
[ "${1:-}" = get ] || exit 0
while IFS= read -r line && [ -n "$line" ]; do :; done
fail() { echo "git-clone: git token for installation $CATALYST_INSTALLATION_ID: $*" >&2; exit 1; }
sa=$(cat "$CATALYST_TOKEN_FILE" 2>/dev/null) && [ -n "$sa" ] ||
  fail "no ServiceAccount token at $CATALYST_TOKEN_FILE"
url="$CATALYST_WEB_URL/api/git-token/$CATALYST_INSTALLATION_ID"
body=$(mktemp) || fail "no temporary file"
trap 'rm -f "$body"' EXIT
if command -v curl >/dev/null 2>&1; then
  code=$(curl -sS --max-time 20 -o "$body" -w '%{http_code}' -H "Authorization: Bearer $sa" "$url" 2>/dev/null) || code=000
else
  if err=$(wget -q -T 20 -O "$body" --header "Authorization: Bearer $sa" "$url" 2>&1); then code=200
  else code=$(printf '%s
' "$err" | sed -n 's/.*HTTP\/[0-9.]* \([0-9][0-9][0-9]\).*/\1/p' | head -n 1); fi
fi
case ${code:-000} in
  200) [ -s "$body" ] || fail "the Catalyst web app answered with an empty token" ;;
  000) fail "the Catalyst web app at $CATALYST_WEB_URL is unreachable" ;;
  401) fail "the Catalyst web app refused this pod's ServiceAccount token (HTTP 401)" ;;
  403) fail "the Catalyst web app refused: not the installation of this Environment's Project (HTTP 403)" ;;
  404) fail "the Catalyst web app knows no such installation (HTTP 404; 'pat' needs PAT mode)" ;;
  *) fail "the Catalyst web app answered HTTP $code" ;;
esac
printf 'username=x-access-token
password=%s
' "$(cat "$body")"
)sh";

}  // namespace controllers
