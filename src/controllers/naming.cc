#include "controllers/naming.h"

#include <openssl/sha.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace controllers {
namespace {

constexpr size_t kMaxLabel = 63;
// 40 bits: among 100,000 names cut to one stem, any clash at all has odds of ~0.5%.
constexpr size_t kSuffixDigits = 10;

bool IsLowerHex(char c) { return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f'); }

// Lowercase; anything but [a-z0-9] becomes '-'; runs of '-' collapse; no '-' at the ends.
std::string Sanitize(absl::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (char c : in) {
    char l = absl::ascii_tolower(static_cast<unsigned char>(c));
    bool ok = absl::ascii_isdigit(l) || (l >= 'a' && l <= 'z');
    if (ok)
      out.push_back(l);
    else if (!out.empty() && out.back() != '-')
      out.push_back('-');
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

// "-" + 10 lowercase hex digits at the end: what a suffixed name looks like.
bool LooksSuffixed(absl::string_view s) {
  if (s.size() < kSuffixDigits + 1) return false;
  absl::string_view tail = s.substr(s.size() - kSuffixDigits);
  return s[s.size() - kSuffixDigits - 1] == '-' &&
         std::all_of(tail.begin(), tail.end(), IsLowerHex);
}

// Namespaces of the cluster itself: an Environment must never take one over
// (deleting the Environment deletes its namespace).
bool IsSystemNamespace(absl::string_view s) {
  return s == "default" || absl::StartsWith(s, "kube-");
}

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

absl::StatusOr<std::string> NamespaceNameFor(absl::string_view joined) {
  std::string clean = Sanitize(joined);
  if (clean.empty())
    return absl::InvalidArgumentError(absl::StrCat("cannot derive a target namespace from \"",
                                                   joined, "\": it has no letter or digit"));
  if (clean == joined && clean.size() <= kMaxLabel && !LooksSuffixed(clean) &&
      !IsSystemNamespace(clean))
    return clean;
  // The hash is of the input as given, so inputs that sanitise alike differ.
  std::string stem = clean.substr(0, kMaxLabel - kSuffixDigits - 1);
  while (!stem.empty() && stem.back() == '-') stem.pop_back();
  return absl::StrCat(stem, "-", HexSha256(joined, kSuffixDigits));
}

absl::StatusOr<std::string> TargetNamespace(const EnvironmentSpec& env) {
  // PRODUCT.md "API": the hierarchy wins when complete.
  if (!env.team.empty() && !env.project.empty() && !env.environment.empty())
    return NamespaceNameFor(absl::StrCat(env.team, "-", env.project, "-", env.environment));
  if (env.namespace_.empty() || env.name.empty())
    return absl::InvalidArgumentError(
        "cannot derive a target namespace: metadata.namespace and metadata.name are required");
  return NamespaceNameFor(absl::StrCat(env.namespace_, "-", env.name));
}

}  // namespace controllers
