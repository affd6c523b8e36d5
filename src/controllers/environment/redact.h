// Redaction of secrets in text the operator republishes: the termination
// message of a failing container (with FallbackToLogsOnError, the tail of
// git's, npm's or the app's log) is quoted into the Environment's status, an
// Event and the operator's log, which many more people and systems read than
// may read the pod (docs/contract.md, "Status"). What the operator knows to
// be secret (the generated postgres password, the values of the team's
// secrets) and what looks like a credential is replaced by kRedacted.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "controllers/environment/cluster_state.h"

namespace controllers {

inline constexpr absl::string_view kRedacted = "[redacted]";
// Known values shorter than this are not redacted: a two-letter value would
// blank out half of every message and hides nothing worth hiding.
inline constexpr size_t kMinSecretLength = 6;
// The budget of a condition message (an Event's is 1 KiB: kube/event_recorder.h).
inline constexpr size_t kStatusMessageMax = 32 * 1024;

// Replaces, in a text:
// - every occurrence of a known secret value (and, at the very start and end
//   of the text, a piece of one: a log tail is cut wherever its byte budget
//   ends, possibly inside a secret), and of its URL-encoded form;
// - the userinfo of a URL (postgres://[redacted]@host:5432/db), except
//   ssh's conventional user "git";
// - GitHub tokens (ghp_, gho_, ghs_, ghu_, ghr_, github_pat_), GitLab
//   personal tokens (glpat-), JWTs, AWS access key ids (AKIA, ASIA);
// - the token after "Bearer ";
// - the body of a PEM private key block;
// - the value of a key=value (or "key": "value", key: 'value') pair whose
//   key names a password, secret, token or API key.
//
// Plain scanning, not regular expressions: every pattern is a fixed prefix
// or separator followed by a run of a character class, which a scan finds in
// one linear pass without a new library (RE2 is not in the build's
// dependencies nor in the image), and std::regex backtracks exponentially on
// hostile input. Every scan is linear in the text (and the known values): the
// text is the tenant's. The result is the same for the same input (a status
// that does not change is not rewritten), and redacting twice changes nothing.
class Redactor {
 public:
  // Patterns only.
  Redactor() = default;
  // Values shorter than kMinSecretLength, or part of kRedacted, are ignored.
  explicit Redactor(const std::vector<std::string>& known_values);

  std::string Redact(absl::string_view text) const;

  // A shared instance without known values.
  static const Redactor& PatternsOnly();

 private:
  // Each value with its Knuth-Morris-Pratt borders (redact.cc).
  std::vector<std::pair<std::string, std::vector<uint32_t>>> known_;
};

// The secret values an Environment's messages must not show, from the cache:
// the password in Secret postgres-credentials of namespace ns, the values of
// its Secret catalyst-secrets and of what the web app last answered for the
// Environment env_key ("<namespace>/<name>"), decoded from base64. A
// multi-line value is also taken line by line (a log prints one line of it).
std::vector<std::string> SecretValuesOf(const ClusterState& state, absl::string_view ns,
                                        const std::string& env_key);

// A message cut to max bytes on a UTF-8 boundary, ending with
// util::kCutMarker when it was cut.
std::string CapMessage(absl::string_view message, size_t max);

}  // namespace controllers
