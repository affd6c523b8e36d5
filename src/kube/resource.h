// Resource: which REST collection a request addresses, and its URL.
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace kube {

struct Resource {
  absl::string_view group;  // "" for the core API
  absl::string_view version;
  absl::string_view plural;
  bool namespaced = true;

  // /api/v1/namespaces/ns/pods/name/status, /apis/apps/v1/deployments, ...
  // An empty ns on a namespaced resource addresses all namespaces.
  std::string Path(absl::string_view ns = {}, absl::string_view name = {},
                   absl::string_view subresource = {}) const;
};

namespace resources {
inline constexpr Resource kNamespaces{"", "v1", "namespaces", false};
inline constexpr Resource kPods{"", "v1", "pods"};
inline constexpr Resource kServices{"", "v1", "services"};
inline constexpr Resource kConfigMaps{"", "v1", "configmaps"};
inline constexpr Resource kSecrets{"", "v1", "secrets"};
inline constexpr Resource kServiceAccounts{"", "v1", "serviceaccounts"};
inline constexpr Resource kPersistentVolumeClaims{"", "v1", "persistentvolumeclaims"};
inline constexpr Resource kResourceQuotas{"", "v1", "resourcequotas"};
inline constexpr Resource kEvents{"", "v1", "events"};
inline constexpr Resource kNodes{"", "v1", "nodes", false};
inline constexpr Resource kDeployments{"apps", "v1", "deployments"};
inline constexpr Resource kReplicaSets{"apps", "v1", "replicasets"};
inline constexpr Resource kStatefulSets{"apps", "v1", "statefulsets"};
inline constexpr Resource kJobs{"batch", "v1", "jobs"};
inline constexpr Resource kCronJobs{"batch", "v1", "cronjobs"};
inline constexpr Resource kPodDisruptionBudgets{"policy", "v1", "poddisruptionbudgets"};
inline constexpr Resource kHorizontalPodAutoscalers{"autoscaling", "v2",
                                                    "horizontalpodautoscalers"};
inline constexpr Resource kNetworkPolicies{"networking.k8s.io", "v1", "networkpolicies"};
inline constexpr Resource kIngresses{"networking.k8s.io", "v1", "ingresses"};
inline constexpr Resource kLeases{"coordination.k8s.io", "v1", "leases"};
inline constexpr Resource kCustomResourceDefinitions{"apiextensions.k8s.io", "v1",
                                                     "customresourcedefinitions", false};
inline constexpr Resource kClusterRoles{"rbac.authorization.k8s.io", "v1", "clusterroles", false};
inline constexpr Resource kClusterRoleBindings{"rbac.authorization.k8s.io", "v1",
                                               "clusterrolebindings", false};

// The constant above serving kind (a RESTMapper for these kinds only), or
// null: for objects known by their kind alone, such as captured fixtures.
const Resource* ForKind(absl::string_view kind);
}  // namespace resources

// Percent-encodes a query parameter value (RFC 3986 unreserved kept).
std::string QueryEscape(absl::string_view s);

}  // namespace kube
