#include "support/catalyst.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "controllers/naming.h"

namespace testing_support {

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
    quota = absl::StrCat(R"(,"resources":{"defaultQuota":{)",
                         p.quota_cpu.empty() ? "" : absl::StrCat(R"("cpu":")", p.quota_cpu, "\""),
                         !p.quota_cpu.empty() && !p.quota_memory.empty() ? "," : "",
                         p.quota_memory.empty() ? "" : absl::StrCat(R"("memory":")", p.quota_memory, "\""),
                         "}}");
  return absl::StrCat(
      R"({"apiVersion":"catalyst.catalyst.dev/v1alpha1","kind":"Project","metadata":{"name":")",
      p.name, R"(","namespace":")", controllers::SanitizeNamespaceComponent(p.team),
      R"(","labels":{"catalyst.dev/team":")", controllers::SanitizeNamespaceComponent(p.team),
      R"(","catalyst.dev/project":")", controllers::SanitizeNamespaceComponent(p.name),
      R"("}},"spec":{"sources":[{"name":"primary","repositoryUrl":")", p.repository_url,
      R"(","branch":")", p.branch, R"("}],"templates":{"development":)", tmpl,
      R"(,"deployment":)", tmpl, "}", quota, R"(,"githubInstallationId":"12345678"}})");
}

std::string EnvironmentJson(const EnvironmentFields& e) {
  return absl::StrCat(
      R"({"apiVersion":"catalyst.catalyst.dev/v1alpha1","kind":"Environment","metadata":{"name":")",
      e.name, R"(","namespace":")", e.ns, "\"",
      e.uid.empty() ? "" : absl::StrCat(R"(,"uid":")", e.uid, R"(","generation":1)"),
      R"(,"labels":{"catalyst.dev/team":")", controllers::SanitizeNamespaceComponent(e.team),
      R"(","catalyst.dev/project":")", controllers::SanitizeNamespaceComponent(e.project),
      R"(","catalyst.dev/environment":")", controllers::SanitizeNamespaceComponent(e.name),
      R"("}},"spec":{)", e.extra_spec, R"("projectRef":{"name":")", e.project, R"("},"type":")",
      e.type, R"(","sources":[{"name":")", e.source_name, R"(","commitSha":")", e.commit_sha,
      R"(","branch":")", e.branch, R"("}])",
      e.config.empty() ? "" : absl::StrCat(R"(,"config":)", e.config), "}}");
}

}  // namespace testing_support
