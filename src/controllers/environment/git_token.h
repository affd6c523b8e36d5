// The git token of a Project's GitHub App installation, for the clones the
// operator runs itself (chart_render.h, ChartSource::token). The operator asks
// the Catalyst web app for it exactly as a pod of the environment namespace
// does (git_clone.h's credential helper): GET <web-url>/api/git-token/<id>
// with a token of that namespace's `default` ServiceAccount, minted for ten
// minutes by the TokenRequest API. The web app's check (TokenReview, the
// namespace's team/project labels, that Project's installation id) is then
// the one every clone of that namespace passes, unchanged, and the operator's
// own token is never offered. docs/contract.md, "Private repositories and the
// team's secrets"; docs/development.md, "Deployment templates".
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "kube/client.h"
#include "kube/transport.h"

namespace controllers {

// The ServiceAccount whose token is minted: the one a pod of the environment
// namespace runs as (the chart's admission policy allows the operator no other).
inline constexpr char kGitTokenServiceAccount[] = "default";
// Its lifetime: the API server's minimum, as git-clone's projected token.
inline constexpr int64_t kGitTokenRequestSeconds = 600;
// One request to the web app (the credential helper's curl --max-time).
inline constexpr absl::Duration kGitTokenTimeout = absl::Seconds(20);
// A larger answer is refused: a GitHub token is under 100 bytes. (The
// transport has read it whole by then: the bound keeps it out of the clone.)
inline constexpr size_t kMaxGitTokenBytes = 8 << 10;

// Asks the web app (web: a transport to web_url's scheme and authority, as
// manager.cc makes it; web_url's path prefixes the endpoint) for the git token
// of installation_id, sending `Authorization: Bearer <bearer>` in place of the
// transport's own token. Returns the token, surrounding whitespace trimmed.
// No retry: the caller's next attempt (the next reconcile) is the retry.
//
// Errors say "git token for installation <id>: " and the cause, as the
// credential helper's do; neither the token nor the bearer is ever in one:
//   Unavailable        the web app unreachable, or it answered 429 or 5xx
//   Unauthenticated    401: it refused the bearer
//   PermissionDenied   403: not the installation of the bearer's namespace's
//                      Project (another team's, or a namespace without labels)
//   NotFound           404: no such installation ('pat' outside PAT mode)
//   InvalidArgument    no installation id or no bearer (never falls back to the
//                      transport's token); another status (400: not a number);
//                      an answer that is not a token: not text/plain, empty,
//                      over kMaxGitTokenBytes, or holding a character outside
//                      printable ASCII (git's credential protocol is line
//                      based: a newline in the token would add attributes)
//   FailedPrecondition no web URL or no transport (the operator's flags)
absl::StatusOr<std::string> FetchGitToken(kube::Transport* web, absl::string_view web_url,
                                          absl::string_view installation_id,
                                          absl::string_view bearer);

// Both steps for environment namespace ns: a token of its `default`
// ServiceAccount (client: the operator's, allowed `create` on
// serviceaccounts/token by the chart's RBAC, held to environment namespaces
// and `default` by its admission policy), then FetchGitToken with it. A
// failed mint keeps its code and API error (apierrors::IsNotFound: the
// controller-manager has not made the ServiceAccount of a new namespace yet,
// worth a retry) and names the step; FetchGitToken's errors name the namespace.
absl::StatusOr<std::string> GitTokenForNamespace(kube::Client* client, kube::Transport* web,
                                                 absl::string_view web_url, absl::string_view ns,
                                                 absl::string_view installation_id);

}  // namespace controllers
