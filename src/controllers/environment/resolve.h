// Resolve: an Environment, its Project and the operator's configuration made
// into the one description the builders render (the field-by-field contract
// is docs/contract.md, "Project", "Environment" and "spec.config"):
//
// - the repository and ref to clone: the Environment source's repositoryUrl,
//   else the Project source of the same name, else the template's sourceRef,
//   else the Project's first source; commitSha unless empty, else the
//   Environment's branch, else the Project source's branch;
// - the Project template config for spec.type merged under spec.config
//   (v1alpha1::MergeConfig), the seed's defaults filled in where both are
//   silent (node image, next dev, git-clone -> npm-install -> db-migrate, a
//   2Gi web container, a 512Mi postgres), per deployment mode;
// - every container's resources completed so the namespace quota admits the
//   pod, and the whole checked against that quota;
// - the quota itself (the Project's defaultQuota, else the operator's).
//
// Pure: no I/O, no clock. Errors are InvalidArgument naming the field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "api/v1alpha1/config.h"
#include "api/v1alpha1/environment.h"
#include "api/v1alpha1/project.h"
#include "controllers/environment/config.h"

namespace controllers {

// A volume of a pod: a claim of the Environment's, or an emptyDir.
struct PodVolume {
  std::string name;
  std::string claim;  // empty: emptyDir (or the token below)
  // A projected ServiceAccount token (git-clone's, for the web app's git token).
  bool service_account_token = false;
  std::string size_limit;  // an emptyDir's sizeLimit (the kubelet evicts the pod past it)
};

// A PersistentVolumeClaim in the target namespace.
struct ClaimObject {
  std::string name;
  std::string app;  // app.kubernetes.io/name of the workload it belongs to
  v1alpha1::Claim claim;
};

struct ServicePort {
  std::string name;
  int64_t port = 0;
  int64_t target = 0;
  std::string protocol;  // TCP, UDP, SCTP
};

// One Deployment (one replica) and, when it has ports, its Service.
struct Workload {
  std::string name;  // Deployment, Service, container and app.kubernetes.io/name
  std::vector<v1alpha1::Container> init_containers;  // complete: name, image, resources...
  v1alpha1::Container container;                     // complete; its name is `name`
  std::vector<PodVolume> volumes;
  std::vector<ServicePort> service_ports;  // empty: no Service
  // The user (and group, fsGroup) the pod runs as; 0: the image's own.
  // postgres images start as root only to step down to this user, which a
  // container without capabilities cannot do (docs/contract.md "Tenant isolation").
  int64_t run_as_user = 0;
};

// The ResourceQuota's hard limits, canonical.
struct Quota {
  std::string requests_cpu, requests_memory, limits_memory, requests_storage, pods;
  std::string limits_cpu;  // empty: not limited (no defaultQuota.cpu)
};

// Helm mode (docs/contract.md, "Project"): the chart the operator renders
// and applies in place of the services and the main workload.
struct Chart {
  std::string type;                 // helm | docker-compose (compose mode: a compose file)
  std::string url, branch, commit;  // the template's source at the Environment's ref
  std::string path;                 // the chart's directory in the repository ("" = root)
  std::string values;               // the template's values, JSON text
};

// docs/contract.md, "Image builds": a template build, made by a Job in the
// environment namespace (git-clone, then the builder), pushed to image().
struct ImageBuild {
  std::string name;        // the template build's name
  std::string repository;  // <registry>/<project>/<name>-<environment>
  std::string tag;         // the commit, else the branch as a tag
  std::string ref;         // what status.builds names: the commit, else the branch
  std::string url;         // the repository cloned
  std::vector<v1alpha1::Container> init_containers;  // git-clone
  v1alpha1::Container builder;
  std::vector<PodVolume> volumes;
  // Filled by the planner from status.builds (empty: not built yet).
  std::string digest;
  bool recorded = false;  // status.builds already says Succeeded: the Job can go
  std::string Image() const { return repository + ":" + tag; }
  std::string Pinned() const { return repository + "@" + digest; }
};

struct Desired {
  v1alpha1::EnvironmentSpec env;
  v1alpha1::DeploymentMode mode = v1alpha1::DeploymentMode::kDevelopment;
  std::string ns;  // the target namespace
  // What git-clone fetches (development and workspace); empty in production.
  std::string repository_url, branch, commit_sha;
  std::vector<Workload> services;   // docs/contract.md, "Reconciliation" 4: postgres by default
  Workload main;                    // 6: web (development, production) or workspace
  bool http = false;                // main gets a Service on port 80 and an Ingress
  std::vector<ClaimObject> claims;  // service data and volumes
  Quota quota;
  bool pull_secret = false;  // pods use the registry-credentials copy
  // The operator's own postgres runs: its password is in Secret
  // postgres-credentials, referenced by postgres and by the web pod.
  bool db_credentials = false;
  std::string branch_label;  // catalyst.dev/branch on the namespace; empty: none
  // The Project's namespace and name (empty: no Project): the namespace's team
  // and project labels, which the web app's git-token check reads.
  std::string project_namespace, project_name;
  // The Project's GitHub App installation: git-clone fetches its token from
  // the web app (empty: an anonymous clone).
  std::string installation_id;
  // docs/contract.md, "The team's secrets" (filled by the planner from what
  // the web app said, not by Resolve): Secret catalyst-secrets' data to apply,
  // KEY -> base64; absent: none to apply (a cached one may still be kept).
  std::optional<std::vector<std::pair<std::string, std::string>>> team_secrets;
  // The main container reads catalyst-secrets (envFrom), and the pod template
  // carries this hash of its data (a change rolls the pods). Empty: neither.
  std::string team_secrets_hash;
  // Set: helm mode; services, main, claims and the Ingress are not built.
  std::optional<Chart> chart;
  // The template's builds (helm and production modes); none: no Job.
  std::vector<ImageBuild> builds;
  // Production: the build whose image the main container runs (the config
  // names none); the planner sets the image once it is built.
  std::string main_from_build;
};

struct ResolveInput {
  const v1alpha1::EnvironmentSpec& env;
  std::string ns;                        // TargetNamespace(env)
  const v1alpha1::ProjectSpec* project;  // null: no Project (not found or no projectRef)
  const OperatorConfig& config;
  bool registry_credentials = false;  // the Project's namespace has registry-credentials
};

absl::StatusOr<Desired> Resolve(const ResolveInput& in);

// Object names the operator uses for the main workload.
inline constexpr char kWorkspaceName[] = "workspace";  // the workspace-mode Deployment
// git-clone's projected ServiceAccount token: its volume, where it is mounted
// (in git-clone only) and how long it lives (the API server's minimum).
inline constexpr char kGitTokenVolume[] = "git-token";
inline constexpr char kGitTokenDir[] = "/var/run/secrets/catalyst/git";
inline constexpr int64_t kGitTokenSeconds = 600;

}  // namespace controllers
