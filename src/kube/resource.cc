#include "kube/resource.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace kube {

std::string Resource::Path(absl::string_view ns, absl::string_view name,
                           absl::string_view subresource) const {
  std::string p =
      group.empty() ? absl::StrCat("/api/", version) : absl::StrCat("/apis/", group, "/", version);
  if (namespaced && !ns.empty()) absl::StrAppend(&p, "/namespaces/", ns);
  absl::StrAppend(&p, "/", plural);
  if (!name.empty()) absl::StrAppend(&p, "/", name);
  if (!subresource.empty()) absl::StrAppend(&p, "/", subresource);
  return p;
}

namespace resources {
const Resource* ForKind(absl::string_view kind) {
  static constexpr std::pair<absl::string_view, const Resource*> kKinds[] = {
      {"Namespace", &kNamespaces},
      {"Pod", &kPods},
      {"Service", &kServices},
      {"ConfigMap", &kConfigMaps},
      {"Secret", &kSecrets},
      {"ServiceAccount", &kServiceAccounts},
      {"PersistentVolumeClaim", &kPersistentVolumeClaims},
      {"ResourceQuota", &kResourceQuotas},
      {"Event", &kEvents},
      {"Node", &kNodes},
      {"Deployment", &kDeployments},
      {"ReplicaSet", &kReplicaSets},
      {"StatefulSet", &kStatefulSets},
      {"Job", &kJobs},
      {"CronJob", &kCronJobs},
      {"PodDisruptionBudget", &kPodDisruptionBudgets},
      {"HorizontalPodAutoscaler", &kHorizontalPodAutoscalers},
      {"NetworkPolicy", &kNetworkPolicies},
      {"Ingress", &kIngresses},
      {"Lease", &kLeases},
      {"CustomResourceDefinition", &kCustomResourceDefinitions},
      {"ClusterRole", &kClusterRoles},
      {"ClusterRoleBinding", &kClusterRoleBindings}};
  for (const auto& [k, r] : kKinds)
    if (k == kind) return r;
  return nullptr;
}
}  // namespace resources

std::string QueryEscape(absl::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace kube
