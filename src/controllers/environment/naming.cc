#include "controllers/environment/naming.h"

#include <openssl/sha.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace controllers {
namespace {

constexpr size_t kMaxLabel = 63;
constexpr size_t kHashDigits = 5;  // namespace-utils.ts: hash.slice(0, 5)

}  // namespace

std::string HexSha256(absl::string_view data, size_t digits) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : md) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  out.resize(std::min<size_t>(digits, out.size()));
  return out;
}

// name.toLowerCase().replace(/[^a-z0-9-]/g, "-").replace(/-+/g, "-").replace(/^-+|-+$/g, "")
// Bytewise: a multi-byte character becomes several '-', which collapse as
// JavaScript's UTF-16 units would.
std::string SanitizeNamespaceComponent(absl::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (char c : in) {
    const char l = absl::ascii_tolower(static_cast<unsigned char>(c));
    const bool ok = absl::ascii_isdigit(l) || (l >= 'a' && l <= 'z');
    if (ok)
      out.push_back(l);
    else if (!out.empty() && out.back() != '-')
      out.push_back('-');
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

std::string GenerateNamespace(const std::vector<absl::string_view>& parts) {
  std::vector<std::string> clean;
  for (absl::string_view part : parts)
    if (std::string s = SanitizeNamespaceComponent(part); !s.empty()) clean.push_back(std::move(s));
  std::string full = absl::StrJoin(clean, "-");
  if (full.size() <= kMaxLabel) return full;
  // The hash is of the joined, sanitized name (generateNamespaceWithHash).
  std::string cut = full.substr(0, kMaxLabel - kHashDigits - 1);
  if (!cut.empty() && cut.back() == '-') cut.pop_back();
  return absl::StrCat(cut, "-", HexSha256(full, kHashDigits));
}

absl::StatusOr<std::string> TargetNamespace(const EnvironmentSpec& env) {
  // docs/contract.md, "Names": the hierarchy wins when complete.
  const bool hierarchy = !env.team.empty() && !env.project.empty() && !env.environment.empty();
  std::string ns = hierarchy ? GenerateNamespace({env.team, env.project, env.environment})
                             : GenerateNamespace({env.namespace_, env.name});
  if (ns.empty())
    return absl::InvalidArgumentError(
        hierarchy
            ? absl::StrCat("cannot derive a target namespace from the labels ", kTeamLabel, "=",
                           env.team, ", ", kProjectLabel, "=", env.project, ", ", kEnvironmentLabel,
                           "=", env.environment, ": they have no letter or digit")
            : std::string("cannot derive a target namespace: metadata.namespace and "
                          "metadata.name have no letter or digit"));
  return ns;
}

absl::StatusOr<std::string> TargetNamespaceOf(const kube::Object& env) {
  EnvironmentSpec e;
  e.name = std::string(env.Name());
  e.namespace_ = std::string(env.Namespace());
  e.team = std::string(env.Label(kTeamLabel));
  e.project = std::string(env.Label(kProjectLabel));
  e.environment = std::string(env.Label(kEnvironmentLabel));
  return TargetNamespace(e);
}

std::string SanitizeLabelValue(absl::string_view s) {
  std::string out;
  for (char c : s) {
    const bool ok =
        absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    out.push_back(ok ? c : '-');
  }
  auto edge = [](char c) { return !absl::ascii_isalnum(static_cast<unsigned char>(c)); };
  while (!out.empty() && edge(out.front())) out.erase(out.begin());
  if (out.size() > kMaxLabel) out.resize(kMaxLabel);
  while (!out.empty() && edge(out.back())) out.pop_back();
  return out;
}

bool OwnedNamespace(const kube::Object& ns, absl::string_view env_uid) {
  return !env_uid.empty() && ns.Label(kEnvironmentUidLabel) == env_uid &&
         ns.Label(kManagedByLabel) == kManagedByValue &&
         ns.Label(kNamespaceTypeLabel) == "environment";
}

}  // namespace controllers
