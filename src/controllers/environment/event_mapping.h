// Event mapping: which Environments a watch event concerns — the functions
// the informers' handlers call (controller.cc, the table of watches), and the
// Project lookup order they share with the planner. docs/contract.md, "What
// the web app does": a Project created later, or changed, reaches every
// Environment that refers to it by watch event, with no polling.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "informer/store.h"
#include "kube/object.h"

namespace controllers {

// Appends to out the keys ("<namespace>/<name>") of the Environments an
// event on an object concerns.
using KeysOf = std::function<void(const kube::Object&, std::vector<std::string>& out)>;

// The "<namespace>/<name>" an event on a managed object belongs to, from its
// catalyst.dev/environment annotation; empty when it has none.
std::string OwnerKey(const kube::Object& managed);

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

// The primary watch (controller-runtime's For): an Environment is its own key.
void SelfOf(const kube::Object& env, std::vector<std::string>& out);

// An owned watch (Owns): a managed object belongs to the Environment its
// annotation names.
void OwnerOf(const kube::Object& o, std::vector<std::string>& out);

// A watch of objects Environments read without owning them (Watches): a
// Project (by_name) or the pull credentials in a Project's namespace. A copy
// of ours (managed-by label) belongs to its owner. environments must outlive
// the result.
KeysOf DependentsOf(const informer::Store* environments, bool by_name);

}  // namespace controllers
