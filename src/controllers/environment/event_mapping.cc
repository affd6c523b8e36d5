#include "controllers/environment/event_mapping.h"

#include <algorithm>

#include "api/v1alpha1/environment.h"
#include "controllers/environment/naming.h"

namespace controllers {

std::string OwnerKey(const kube::Object& managed) {
  return std::string(managed.Annotation(kEnvironmentAnnotation));
}

std::vector<std::string> ProjectNamespaces(const kube::Object& env) {
  std::vector<std::string> out;
  if (env.Str({"spec", "projectRef", "name"}).empty()) return out;
  if (std::string team = SanitizeNamespaceComponent(env.Label(v1alpha1::kTeamLabel)); !team.empty())
    out.push_back(std::move(team));
  if (std::string own(env.Namespace()); out.empty() || out.front() != own) out.push_back(own);
  return out;
}

std::vector<std::string> EnvironmentsReading(const informer::Store& environments,
                                             const kube::Object& o, bool by_name) {
  std::vector<std::string> out;
  for (const kube::Object& env : environments.List()) {
    if (by_name && env.Str({"spec", "projectRef", "name"}) != o.Name()) continue;
    const std::vector<std::string> namespaces = ProjectNamespaces(env);
    if (std::find(namespaces.begin(), namespaces.end(), o.Namespace()) != namespaces.end())
      out.push_back(env.Key());
  }
  return out;
}

void SelfOf(const kube::Object& env, std::vector<std::string>& out) { out.push_back(env.Key()); }

void OwnerOf(const kube::Object& o, std::vector<std::string>& out) { out.push_back(OwnerKey(o)); }

KeysOf DependentsOf(const informer::Store* environments, bool by_name) {
  return [environments, by_name](const kube::Object& o, std::vector<std::string>& out) {
    if (o.Label(kManagedByLabel) == kManagedByValue) return OwnerOf(o, out);
    out = EnvironmentsReading(*environments, o, by_name);
  };
}

}  // namespace controllers
