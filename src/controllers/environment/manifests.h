// Builders: the desired manifest of every object the operator manages for an
// Environment (docs/contract.md, "Reconciliation" 1-6), rendered from its resolved
// description (resolve.h) as pure functions.
//
// Each returns the full object — apiVersion, kind, metadata (name, namespace,
// labels, annotation) and spec — ready to be a server-side apply body and to be
// compared with the cache through IsSubset (subset.h). Quantities are
// canonical (resolve.h makes them so) so an unchanged object compares equal.
//
// Every object carries app.kubernetes.io/managed-by=kube-operator,
// app.kubernetes.io/part-of=catalyst-environment, catalyst.dev/environment-uid
// and (workload objects) app.kubernetes.io/name, plus the annotation
// catalyst.dev/environment=<namespace>/<name> (naming.h). Pod templates carry
// the same, so a Pod informer filtered on managed-by sees the pods.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "controllers/environment/config.h"
#include "controllers/environment/resolve.h"
#include "controllers/environment/team_secrets.h"
#include "kube/object.h"
#include "kube/resource.h"

namespace controllers {

// 1. The target namespace, with the hierarchy, branch and type labels.
kube::Object BuildNamespace(const Desired& d);
// 2. ResourceQuota environment-quota.
kube::Object BuildResourceQuota(const Desired& d);
// 3. The NetworkPolicies: the five rules of docs/contract.md, "Network policy", in two objects,
// environment-isolation (every pod) and allow-web (the web pods).
std::vector<kube::Object> BuildNetworkPolicies(const Desired& d, const OperatorConfig& cfg);
// The registry-credentials Secret copied from the Project's namespace (type
// and data of source).
kube::Object BuildRegistrySecret(const Desired& d, const kube::Object& source);
// The postgres-credentials Secret holding password (created once, never
// applied over: see the planner).
kube::Object BuildDbSecret(const Desired& d, absl::string_view password);
// Secret catalyst-secrets: the team's secrets from the web app (d.team_secrets).
kube::Object BuildTeamSecret(const Desired& d);
// 4 and 6: a PersistentVolumeClaim (service data, the workspace, config volumes).
kube::Object BuildClaim(const Desired& d, const ClaimObject& c, const OperatorConfig& cfg);
// 4 and 6: a workload's Deployment (one replica, Recreate) and its Service.
kube::Object BuildDeployment(const Desired& d, const Workload& w);
kube::Object BuildService(const Desired& d, const Workload& w);
// 6: the web Ingress.
kube::Object BuildIngress(const Desired& d, const OperatorConfig& cfg);

// A template build's Job (docs/contract.md, "Image builds").
kube::Object BuildJob(const Desired& d, const ImageBuild& b, const OperatorConfig& cfg);

// Helm mode: an object of the rendered chart (rendered.h) with the labels
// and annotation every managed object carries added (the tenant's own kept).
kube::Object BuildRendered(const Desired& d, const kube::Object& rendered);

// Every object above for d, in the planner's order, each with its resource
// (the registry Secret only when source is given): for tests and benchmarks.
struct Built {
  const kube::Resource* resource;
  kube::Object object;
};
std::vector<Built> BuildAll(const Desired& d, const OperatorConfig& cfg,
                            const kube::Object& registry_source = {});

// The Ingress host: url_host_template with {name} and {namespace} filled in.
std::string IngressHost(const Desired& d, const OperatorConfig& cfg);
// status.url: "<url_scheme>://<IngressHost>" (empty without an Ingress).
std::string EnvironmentUrl(const Desired& d, const OperatorConfig& cfg);

}  // namespace controllers
