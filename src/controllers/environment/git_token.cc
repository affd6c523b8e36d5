#include "controllers/environment/git_token.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "controllers/environment/web_app.h"

namespace controllers {
namespace {

absl::Status Error(absl::StatusCode code, absl::string_view id, absl::string_view cause) {
  return absl::Status(code, absl::StrCat("git token for installation ", id, ": ", cause));
}

// s with prefix before its message, its code and payloads (the API error) kept.
absl::Status Prefixed(const absl::Status& s, absl::string_view prefix) {
  absl::Status out(s.code(), absl::StrCat(prefix, s.message()));
  s.ForEachPayload(
      [&out](absl::string_view key, const absl::Cord& value) { out.SetPayload(key, value); });
  return out;
}

// What both steps need before anything is sent.
absl::Status Check(kube::Transport* web, absl::string_view web_url, absl::string_view id) {
  if (id.empty()) return absl::InvalidArgumentError("git token: no installation id");
  if (web == nullptr || web_url.empty())
    return Error(absl::StatusCode::kFailedPrecondition, id,
                 "the operator has no Catalyst web app to ask (--web-url)");
  return absl::OkStatus();
}

// FetchGitToken; ns, when known, names the namespace whose token was refused.
absl::StatusOr<std::string> Fetch(kube::Transport* web, absl::string_view web_url,
                                  absl::string_view id, absl::string_view bearer,
                                  absl::string_view ns) {
  using absl::StatusCode;
  if (absl::Status s = Check(web, web_url, id); !s.ok()) return s;
  // Without a bearer the transport would send the operator's own token.
  if (bearer.empty()) return Error(StatusCode::kInvalidArgument, id, "no token to ask with");
  kube::HttpRequest req = WebAppGet(web_url, "/api/git-token/", id, kGitTokenTimeout);
  req.accept = "text/plain";
  req.bearer = std::string(bearer);
  const absl::StatusOr<kube::HttpResponse> r = web->Send(req);
  if (!r.ok())
    return Error(StatusCode::kUnavailable, id,
                 absl::StrCat("the Catalyst web app at ", web_url,
                              " is unreachable: ", r.status().message()));
  const std::string sent =
      ns.empty() ? std::string("the token")
                 : absl::StrCat("the token of ServiceAccount ", ns, "/", kGitTokenServiceAccount);
  const std::string whose =
      ns.empty() ? std::string("the token's namespace") : absl::StrCat("namespace ", ns);
  switch (r->status) {
    case 200:
      break;
    case 401:
      return Error(StatusCode::kUnauthenticated, id,
                   absl::StrCat("the Catalyst web app refused ", sent, " (HTTP 401)"));
    case 403:
      return Error(StatusCode::kPermissionDenied, id,
                   absl::StrCat("the Catalyst web app refused: not the installation of the "
                                "Project of ",
                                whose, " (HTTP 403)"));
    case 404:
      return Error(StatusCode::kNotFound, id,
                   "the Catalyst web app knows no such installation (HTTP 404; 'pat' needs PAT "
                   "mode)");
    default:
      return Error(r->status == 429 || r->status >= 500 ? StatusCode::kUnavailable
                                                        : StatusCode::kInvalidArgument,
                   id, absl::StrCat("the Catalyst web app answered HTTP ", r->status));
  }
  // The answer is never quoted: it is the token, or should have been.
  absl::string_view type = r->content_type;
  if (!absl::StartsWithIgnoreCase(type, "text/plain"))
    return Error(StatusCode::kInvalidArgument, id,
                 absl::StrCat("the Catalyst web app answered with content type '",
                              type.substr(0, 64), "', not a text/plain token"));
  if (r->body.size() > kMaxGitTokenBytes)
    return Error(
        StatusCode::kInvalidArgument, id,
        absl::StrCat("the Catalyst web app's answer is larger than ", kMaxGitTokenBytes, " bytes"));
  const absl::string_view token = absl::StripAsciiWhitespace(r->body);
  if (token.empty())
    return Error(StatusCode::kInvalidArgument, id,
                 "the Catalyst web app answered with an empty token");
  if (!std::all_of(token.begin(), token.end(), [](char c) { return c > ' ' && c < 0x7f; }))
    return Error(StatusCode::kInvalidArgument, id,
                 "the Catalyst web app's answer is not a token (a character outside printable "
                 "ASCII)");
  return std::string(token);
}

}  // namespace

absl::StatusOr<std::string> FetchGitToken(kube::Transport* web, absl::string_view web_url,
                                          absl::string_view installation_id,
                                          absl::string_view bearer) {
  return Fetch(web, web_url, installation_id, bearer, "");
}

absl::StatusOr<std::string> GitTokenForNamespace(kube::Client* client, kube::Transport* web,
                                                 absl::string_view web_url, absl::string_view ns,
                                                 absl::string_view installation_id) {
  // Checked before a token is minted for nothing.
  if (absl::Status s = Check(web, web_url, installation_id); !s.ok()) return s;
  absl::StatusOr<std::string> sa = client->CreateToken(
      ns, kGitTokenServiceAccount, {.expiration_seconds = kGitTokenRequestSeconds});
  if (!sa.ok())
    return Prefixed(sa.status(), absl::StrCat("git token for installation ", installation_id,
                                              ": no token of ServiceAccount ", ns, "/",
                                              kGitTokenServiceAccount, ": "));
  return Fetch(web, web_url, installation_id, *sa, ns);
}

}  // namespace controllers
