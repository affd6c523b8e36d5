// Builders: the desired manifest of every object the operator manages for an
// Environment (PRODUCT.md "Reconciliation" 1-6), as pure functions.
//
// Each returns the full object — apiVersion, kind, metadata (name, namespace,
// labels, annotation) and spec — ready to be a server-side apply body and to be
// compared with the cache through IsSubset (subset.h). Quantities are sent in
// canonical form so an unchanged object compares equal. The planner decides
// the order; the builders take the target namespace from TargetNamespace.
//
// Every object carries app.kubernetes.io/managed-by=kube-operator,
// app.kubernetes.io/part-of=catalyst-environment, catalyst.dev/environment-uid
// and (postgres and web objects) app.kubernetes.io/name, plus the annotation
// catalyst.dev/environment=<namespace>/<name> (naming.h). Pod templates carry
// the same, so a Pod informer filtered on managed-by sees the pods.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "controllers/config.h"
#include "controllers/environment.h"
#include "kube/object.h"

namespace controllers {

// Checks a configuration at startup: quantities parse, the host template
// renders to a DNS name, and one environment (web pod + postgres pod and
// their volumes) fits in the ResourceQuota. Errors name the field.
absl::Status ValidateConfig(const OperatorConfig& cfg);

// 1. The target namespace, with the hierarchy labels when set.
kube::Object BuildNamespace(const EnvironmentSpec& env, absl::string_view ns,
                            const OperatorConfig& cfg);
// 2. ResourceQuota environment-quota.
kube::Object BuildResourceQuota(const EnvironmentSpec& env, absl::string_view ns,
                                const OperatorConfig& cfg);
// 3. The five NetworkPolicies, one per operator-AGENTS.md rule, in its order.
std::vector<kube::Object> BuildNetworkPolicies(const EnvironmentSpec& env, absl::string_view ns,
                                               const OperatorConfig& cfg);
// 4. postgres: its data PVC, Deployment (512Mi) and Service (5432).
kube::Object BuildPostgresPvc(const EnvironmentSpec& env, absl::string_view ns,
                              const OperatorConfig& cfg);
kube::Object BuildPostgresDeployment(const EnvironmentSpec& env, absl::string_view ns,
                                     const OperatorConfig& cfg);
kube::Object BuildPostgresService(const EnvironmentSpec& env, absl::string_view ns,
                                  const OperatorConfig& cfg);
// 6. web: the workspace PVC (development only: see NeedsWorkspace), the
// Deployment, its Service (80 -> 3000) and the Ingress.
bool NeedsWorkspace(const EnvironmentSpec& env);
kube::Object BuildWorkspacePvc(const EnvironmentSpec& env, absl::string_view ns,
                               const OperatorConfig& cfg);
kube::Object BuildWebDeployment(const EnvironmentSpec& env, absl::string_view ns,
                                const OperatorConfig& cfg);
kube::Object BuildWebService(const EnvironmentSpec& env, absl::string_view ns,
                             const OperatorConfig& cfg);
kube::Object BuildIngress(const EnvironmentSpec& env, absl::string_view ns,
                          const OperatorConfig& cfg);

// The Ingress host: url_host_template with {name} and {namespace} filled in.
std::string IngressHost(const EnvironmentSpec& env, absl::string_view ns,
                        const OperatorConfig& cfg);
// status.url: "<url_scheme>://<IngressHost>".
std::string EnvironmentUrl(const EnvironmentSpec& env, absl::string_view ns,
                           const OperatorConfig& cfg);
// The postgres password: derived from the Environment's uid (stable across
// passes, no Secret to keep); the NetworkPolicies are what keep others out.
std::string PostgresPassword(const EnvironmentSpec& env);
// postgres://app:<password>@postgres.<ns>.svc:5432/app
std::string DatabaseUrl(const EnvironmentSpec& env, absl::string_view ns);
// 12 hex digits over what the web pod runs: type, the web source's
// repositoryUrl, branch and commitSha, config.image and config.envVars.
std::string WebRevision(const EnvironmentSpec& env);

}  // namespace controllers
