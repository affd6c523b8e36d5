// EnvironmentSpec: an Environment custom resource read into typed fields, with
// the checks its OpenAPI schema cannot express.
//
// Every builder and the planner work from this, never from raw JSON. Parse
// errors are InvalidArgument with a message that tells the user what to fix:
// the controller copies it into status.conditions (PRODUCT.md "Rules": an
// invalid Environment gets Failed with a clear message).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kube/object.h"

namespace controllers {

// Hierarchy labels (PRODUCT.md "API"): when all three are present they name
// the target namespace.
inline constexpr char kTeamLabel[] = "catalyst.dev/team";
inline constexpr char kProjectLabel[] = "catalyst.dev/project";
inline constexpr char kEnvironmentLabel[] = "catalyst.dev/environment";

enum class EnvironmentType { kDevelopment, kDeployment };

struct Source {
  std::string name;
  std::string repository_url;
  std::string branch;      // empty: the repository's default branch
  std::string commit_sha;  // wins over branch when set
  int64_t pr_number = 0;   // 0: not set
};

struct EnvVar {
  std::string name;
  std::string value;
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
  std::string project_ref;  // spec.projectRef.name, informational
  EnvironmentType type = EnvironmentType::kDevelopment;
  std::vector<Source> sources;
  std::string image;  // spec.config.image
  std::vector<EnvVar> env_vars;

  // The source the web pod runs (development): the one named "web", else the
  // first. Null when there are no sources. ParseEnvironment guarantees one
  // with a repositoryUrl for a development Environment.
  const Source* WebSource() const;
};

// Reads and validates an Environment. All problems found are reported
// together, "; "-separated, each naming the field ("spec.config.image is
// required for type deployment").
absl::StatusOr<EnvironmentSpec> ParseEnvironment(const kube::Object& env);

}  // namespace controllers
