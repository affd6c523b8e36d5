// The Project side of the Environment controller: where an Environment's
// Project is looked up, and which Environments a change to a Project (or to
// the pull credentials in its namespace) must reach (docs/contract.md, "What
// the web app does": a Project created later, or changed, reaches every
// Environment that refers to it by watch event, with no polling).
#pragma once

#include <string>
#include <vector>

#include "informer/store.h"
#include "kube/object.h"

namespace controllers {

// The namespaces an Environment's Project is looked up in, in order: the team
// namespace (sanitize of the catalyst.dev/team label) where the web app
// creates Projects, then the Environment's own namespace. Empty without a
// spec.projectRef.
std::vector<std::string> ProjectNamespaces(const kube::Object& env);

// The keys of the cached Environments that read o: those whose Project it is
// (by_name: o is a Project), or whose Project's namespace holds it (o is a
// Secret registry-credentials). A scan: Projects and credentials change rarely.
std::vector<std::string> EnvironmentsReading(const informer::Store& environments,
                                             const kube::Object& o, bool by_name);

}  // namespace controllers
