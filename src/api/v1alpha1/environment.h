// EnvironmentSpec: an Environment custom resource
// (environments.catalyst.catalyst.dev/v1alpha1) read into typed fields, with
// the checks its OpenAPI schema cannot express.
//
// Builders and the planner work from this, never from raw JSON. Parse errors
// are InvalidArgument with a message that tells the user what to fix: the
// controller copies it into status.conditions (docs/contract.md,
// "Reconciliation", "Rules": an invalid Environment gets Failed with a clear
// message). What needs the Project (the repository, the template config) is
// checked once it is resolved (controllers/environment/resolve.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "api/v1alpha1/config.h"
#include "kube/object.h"

namespace v1alpha1 {

// Hierarchy labels (docs/contract.md, "Names"): the web app sets all three, sanitized;
// they name the target namespace, and the team label the Project's namespace.
inline constexpr char kTeamLabel[] = "catalyst.dev/team";
inline constexpr char kProjectLabel[] = "catalyst.dev/project";
inline constexpr char kEnvironmentLabel[] = "catalyst.dev/environment";

enum class EnvironmentType { kDevelopment, kDeployment };

// docs/contract.md, "Environment": deploymentMode, inferred from type when absent.
enum class DeploymentMode {
  kDevelopment,  // clone, install, migrate, dev server (the seed's flow)
  kProduction,   // the image as a Deployment: no clone, no install, no workspace volume
  kWorkspace,    // one long-running workspace pod on the clone
};
absl::string_view ModeName(DeploymentMode m);

struct Source {
  std::string name;
  std::string repository_url;  // an optional override of the Project's source
  std::string branch;          // empty: the Project source's branch
  std::string commit_sha;      // wins over branch when set; "" and "HEAD" read as unset
  int64_t pr_number = 0;       // 0: not set
};

struct EnvironmentSpec {
  // metadata
  std::string name;
  std::string namespace_;  // the Environment's own namespace (not the target)
  std::string uid;
  int64_t generation = 0;
  // Hierarchy labels; empty when absent.
  std::string team;
  std::string project;
  std::string environment;

  // spec
  std::string project_ref;  // spec.projectRef.name; empty: no Project
  EnvironmentType type = EnvironmentType::kDevelopment;
  std::optional<DeploymentMode> deployment_mode;  // as given
  std::vector<Source> sources;
  Config config;

  // The mode to run: deploymentMode, else development for type development
  // and production for type deployment.
  DeploymentMode Mode() const;
  // The source the web pod runs: the one named "web", else the first; null
  // when there are none.
  const Source* WebSource() const;
};

// Reads and validates an Environment. All problems found are reported
// together, "; "-separated, each naming the field ("spec.sources[0].branch
// \"a..b\" is not a valid git branch name").
absl::StatusOr<EnvironmentSpec> ParseEnvironment(const kube::Object& env);

// Validity of what the CRD's patterns approximate (git check-ref-format and
// the URL schemes git clones over).
bool ValidRepositoryUrl(absl::string_view url);
// Why url is not a repository URL git clones ("must start with https://, ..."),
// "" when it is.
std::string RepositoryUrlProblem(absl::string_view url);
bool ValidBranch(absl::string_view b);

}  // namespace v1alpha1
