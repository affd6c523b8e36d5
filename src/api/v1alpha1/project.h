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

// spec.templates.<t>.builds[]: an image built from a source (the web app's
// "docker" method sends one, named app).
struct Build {
  std::string name;        // a DNS-1123 label: part of the image path and the Job name
  std::string source_ref;  // a source name
  std::string context;     // builds[].path: the build context, a repository path ("" = root)
  std::string dockerfile;  // relative to the context; "Dockerfile" when not given
};

// spec.templates.<development|deployment>.
struct Template {
  std::string source_ref;  // a source name; empty: the first source
  std::string type;        // helm | manifest | kustomize | docker-compose
  std::string path;        // a repository path ("" = root; see RepositoryPath)
  std::string values;      // the free-form values as JSON text; "{}" when absent
  std::vector<Build> builds;
  std::optional<Config> config;  // absent: no defaults from the Project
};

// A path inside a repository as the web app writes one ("./", "charts/app",
// "/charts/app" all mean what they say from the repository's root): leading
// "/" and "./" segments dropped, "" for the root. Nullopt for a path that
// leaves the repository ("..") or holds a control character.
std::optional<std::string> RepositoryPath(absl::string_view path);

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
