// The Catalyst web app's objects, as it sends them (docs/contract.md): the
// fixtures unit and e2e tests build Projects and Environments from.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace testing_support {

// sanitizeNamespaceComponent and generateNamespaceWithHash of the web app's
// namespace-utils.ts.
std::string WebAppSanitize(absl::string_view name);
std::string WebAppNamespace(const std::vector<std::string>& components);

// tests/data/catalyst/nextjs-preset-config.json: the `spec.config` of every
// Environment the web app creates, and of both Project templates.
std::string NextjsPresetConfig();

struct ProjectFields {
  std::string name = "catalyst";
  std::string team = "my-team";  // the team namespace and label
  std::string repository_url = "https://github.com/acme/catalyst";
  std::string branch = "main";
  std::string config = NextjsPresetConfig();  // both templates'; "" for none
  std::string quota_cpu = "2";                // "" leaves defaultQuota out
  std::string quota_memory = "4Gi";
  // templates.deployment as JSON (e.g. a `type: helm` template); "" for the
  // same as development's.
  std::string deployment_template;
};
// The Project sync-project-cr.ts creates in the team namespace.
std::string ProjectJson(const ProjectFields& p);

struct EnvironmentFields {
  std::string name = "dev-happy-otter-42";
  std::string ns = "my-team-catalyst";  // gen(team, project)
  std::string team = "my-team";
  std::string project = "catalyst";
  std::string type = "development";
  std::string branch = "main";
  std::string commit_sha;  // "" as the web app sends it
  std::string source_name = "primary";
  int pr_number = 0;                          // 0: not sent
  std::string config = NextjsPresetConfig();  // "" for none
  std::string extra_spec;                     // e.g. R"("deploymentMode":"workspace",)"
  std::string uid;                            // set for unit tests (the server sets it)
};
// The Environment actions/environments.ts creates in the project namespace.
std::string EnvironmentJson(const EnvironmentFields& e);

}  // namespace testing_support
