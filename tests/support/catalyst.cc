#include "support/catalyst.h"

#include <openssl/sha.h>

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace testing_support {

// namespace-utils.ts, written again here (not the operator's naming.cc) so
// that e2e tests check the operator against an independent copy.
std::string WebAppSanitize(absl::string_view name) {
  std::string out;
  for (char c : name) {
    c = absl::ascii_tolower(static_cast<unsigned char>(c));
    const bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!keep) c = '-';
    if (c == '-' && !out.empty() && out.back() == '-') continue;  // replace(/-+/g, "-")
    out.push_back(c);
  }
  const size_t b = out.find_first_not_of('-'), e = out.find_last_not_of('-');
  return b == std::string::npos ? "" : out.substr(b, e - b + 1);
}

std::string WebAppNamespace(const std::vector<std::string>& components) {
  std::vector<std::string> parts;
  for (const std::string& c : components)
    if (std::string s = WebAppSanitize(c); !s.empty()) parts.push_back(s);
  const std::string full = absl::StrJoin(parts, "-");
  if (full.size() <= 63) return full;
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(full.data()), full.size(), md);
  std::string truncated = full.substr(0, 57);
  if (!truncated.empty() && truncated.back() == '-') truncated.pop_back();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hash;
  for (int i = 0; i < 3; ++i) hash += {kHex[md[i] >> 4], kHex[md[i] & 15]};
  return absl::StrCat(truncated, "-", hash.substr(0, 5));
}

std::string NextjsPresetConfig() {
  std::ifstream in(SOURCE_ROOT "/tests/data/catalyst/nextjs-preset-config.json");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string ProjectJson(const ProjectFields& p) {
  const std::string tmpl =
      absl::StrCat(R"({"sourceRef":"primary","type":"manifest","path":"./")",
                   p.config.empty() ? "" : absl::StrCat(R"(,"config":)", p.config), "}");
  std::string quota;
  if (!p.quota_cpu.empty() || !p.quota_memory.empty())
    quota = absl::StrCat(
        R"(,"resources":{"defaultQuota":{)",
        p.quota_cpu.empty() ? "" : absl::StrCat(R"("cpu":")", p.quota_cpu, "\""),
        !p.quota_cpu.empty() && !p.quota_memory.empty() ? "," : "",
        p.quota_memory.empty() ? "" : absl::StrCat(R"("memory":")", p.quota_memory, "\""), "}}");
  return absl::StrCat(
      R"({"apiVersion":"catalyst.catalyst.dev/v1alpha1","kind":"Project","metadata":{"name":")",
      p.name, R"(","namespace":")", WebAppSanitize(p.team), R"(","labels":{"catalyst.dev/team":")",
      WebAppSanitize(p.team), R"(","catalyst.dev/project":")", WebAppSanitize(p.name),
      R"("}},"spec":{"sources":[{"name":"primary","repositoryUrl":")", p.repository_url,
      R"(","branch":")", p.branch, R"("}],"templates":{"development":)", tmpl, R"(,"deployment":)",
      p.deployment_template.empty() ? tmpl : p.deployment_template, "}", quota,
      R"(,"githubInstallationId":"12345678"}})");
}

std::string EnvironmentJson(const EnvironmentFields& e) {
  return absl::StrCat(
      R"({"apiVersion":"catalyst.catalyst.dev/v1alpha1","kind":"Environment","metadata":{"name":")",
      e.name, R"(","namespace":")", e.ns, "\"",
      e.uid.empty() ? "" : absl::StrCat(R"(,"uid":")", e.uid, R"(","generation":1)"),
      R"(,"labels":{"catalyst.dev/team":")", WebAppSanitize(e.team),
      R"(","catalyst.dev/project":")", WebAppSanitize(e.project),
      R"(","catalyst.dev/environment":")", WebAppSanitize(e.name), R"("}},"spec":{)", e.extra_spec,
      R"("projectRef":{"name":")", e.project, R"("},"type":")", e.type, R"(","sources":[{"name":")",
      e.source_name, R"(","commitSha":")", e.commit_sha, R"(","branch":")", e.branch, "\"",
      e.pr_number > 0 ? absl::StrCat(R"(,"prNumber":)", e.pr_number) : "", "}]",
      e.config.empty() ? "" : absl::StrCat(R"(,"config":)", e.config), "}}");
}

}  // namespace testing_support
