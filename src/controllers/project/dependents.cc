#include "controllers/project/dependents.h"

#include <algorithm>

#include "api/v1alpha1/environment.h"
#include "controllers/environment/naming.h"

namespace controllers {

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

}  // namespace controllers
