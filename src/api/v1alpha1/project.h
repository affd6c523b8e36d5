// ProjectSpec: a Project custom resource (projects.catalyst.catalyst.dev/v1alpha1)
// as the Catalyst web app writes it into the team namespace: the repositories
// its Environments clone, a config template per environment type and the
// namespace quota (docs/contract.md, "Project").
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "api/v1alpha1/config.h"
#include "kube/object.h"

namespace v1alpha1 {

struct ProjectSource {
  std::string name;  // "primary", "source-<n>"
  std::string repository_url;
  std::string branch;
};

// spec.templates.<development|deployment>.
struct Template {
  std::string source_ref;  // a source name; empty: the first source
  std::string type;        // helm | manifest | kustomize | docker-compose
  std::string path;
  std::optional<Config> config;  // absent: no defaults from the Project
};

struct ProjectSpec {
  std::string name;
  std::string namespace_;
  std::vector<ProjectSource> sources;
  std::map<std::string, Template> templates;
  // spec.resources.defaultQuota, canonical quantities; empty: not set.
  std::string quota_cpu;
  std::string quota_memory;
  std::string github_installation_id;

  const ProjectSource* FindSource(absl::string_view name) const;
  const Template* FindTemplate(absl::string_view type) const;
};

// Reads and validates a Project; problems are reported together, each naming
// its field, as for Environments.
absl::StatusOr<ProjectSpec> ParseProject(const kube::Object& project);

}  // namespace v1alpha1
