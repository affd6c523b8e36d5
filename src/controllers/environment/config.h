// OperatorConfig: everything a platform tunes about the environments the
// operator builds (flags and Helm values map onto these fields one to one).
//
// The defaults are the original operator's numbers (docs/contract.md,
// "Reconciliation", "Resource limits" and "Network policy"); builders read
// nothing else.
// Quantities may be written in any form kube-apiserver accepts ("8192Mi");
// builders send them in the canonical form the server stores ("8Gi") so an
// unchanged object compares equal to its cached copy (see subset.h).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "util/flags.h"

namespace controllers {

struct OperatorConfig {
  // docs/contract.md, "Reconciliation" 3: ingress is allowed from this namespace.
  std::string ingress_namespace = "ingress-nginx";
  // docs/contract.md, "Reconciliation" 3: DNS egress (UDP+TCP 53) goes to this namespace.
  std::string dns_namespace = "kube-system";
  // Ingress.spec.ingressClassName; empty: leave it out (the cluster's default class).
  std::string ingress_class = "nginx";
  // The Ingress host. Placeholders: {name} (the Environment's name) and
  // {namespace} (the target namespace, unique per Environment — prefer it).
  std::string url_host_template = "{namespace}.preview.local";
  // status.url is "<url_scheme>://<host>"; TLS termination is the platform's.
  std::string url_scheme = "http";

  // docs/contract.md, "Reconciliation" 2: the namespace's ResourceQuota. Memory caps
  // both requests and limits; it must hold the web pod (2Gi) plus postgres (512Mi).
  std::string quota_cpu = "4";         // requests.cpu
  std::string quota_memory = "8Gi";    // requests.memory and limits.memory
  std::string quota_storage = "20Gi";  // requests.storage (all PVCs together)
  std::string quota_pods = "20";       // pods
  // docs/contract.md "Tenant isolation": the most a Project's defaultQuota may
  // ask (a team writes its own Project); more is refused, not clamped.
  std::string quota_max_cpu = "16";
  std::string quota_max_memory = "64Gi";

  std::string postgres_image = "postgres:16-alpine";
  std::string node_image = "node:20-bookworm-slim";  // development: npm ci, migrate, next dev
  std::string git_image = "alpine/git:2.45.2";       // development: git-clone

  // docs/contract.md, "Resource limits": next dev --turbopack is OOMKilled at 1Gi.
  std::string web_memory_limit = "2Gi";
  std::string postgres_memory_limit = "512Mi";
  // CPU requests (the quota counts requests.cpu, so every container needs one);
  // no CPU limits: throttling a dev server only makes it slow.
  std::string web_cpu_request = "250m";
  std::string postgres_cpu_request = "100m";
  // Only when a Project's defaultQuota sets limits.cpu (then the quota refuses
  // containers without one): the CPU limit of a container whose config gives none.
  std::string default_cpu_limit = "1";

  std::string postgres_storage = "1Gi";   // PVC postgres-data
  std::string workspace_storage = "5Gi";  // PVC workspace (development: clone + node_modules)
  std::string storage_class;              // empty: the cluster's default StorageClass

  // docs/contract.md, "Reconciliation", "Rules": an environment not Ready within this is Failed.
  absl::Duration failure_deadline = absl::Minutes(10);
  // Copy each Project namespace's registry-credentials Secret into its
  // environments' namespaces and name it in imagePullSecrets (needs RBAC on
  // Secrets, chart value rbac.secrets).
  bool registry_credentials = true;
  // Server-side apply field manager.
  std::string field_manager = "kube-operator";

  // The Catalyst web app (docs/contract.md, "Private repositories and the
  // team's secrets"): git-clone asks it for the Project's GitHub App token,
  // the operator for each Environment's secrets. Empty: neither (clones are
  // anonymous, no secrets). Its namespace and port get an egress rule from the
  // pods that clone.
  std::string web_url;
  // The web app's namespace, for that egress rule; empty: the second label of
  // the web URL's host when it is a Service name (<svc>.<ns>.svc...).
  std::string web_namespace;

  // docs/contract.md "Tenant isolation": egress "anywhere" (HTTPS, the clone's
  // port) is every address but the link-local range (cloud metadata) and
  // these CIDRs (comma-separated: the cluster's pod, service and node ranges).
  std::string egress_except_cidrs;
  // The TCP ports a repository URL may name (comma-separated).
  std::string git_ports = "22,80,443,9418";

  // Helm mode (docs/development.md, "Deployment templates"): where charts are
  // cloned and rendered (a fresh directory each; "" is $TMPDIR, else /tmp),
  // and how many renders run at once (each may use 512 MiB).
  std::string render_work_dir;
  int render_concurrency = 1;

  // docs/contract.md, "Image builds": where template builds push
  // ("<host>[:port][/path]"; empty: a template with builds is refused), the
  // builder's image, its memory limit, and how long a build may run.
  std::string registry;
  std::string builder_image = "quay.io/buildah/stable:latest";
  std::string build_memory_limit = "2Gi";
  std::string build_storage_limit = "10Gi";  // each of the checkout's and the layers' emptyDirs
  absl::Duration build_timeout = absl::Minutes(30);
};

// Registers the flags (and Helm values, deploy/) that fill cfg.
void RegisterFlags(util::FlagSet& flags, OperatorConfig* cfg);

// Checks a configuration at startup: quantities parse, the host template
// renders to a DNS name, and one environment (web pod + postgres pod and
// their volumes) fits in the ResourceQuota. Errors name the field.
absl::Status ValidateConfig(const OperatorConfig& cfg);

}  // namespace controllers
