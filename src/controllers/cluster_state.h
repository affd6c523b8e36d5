// ClusterState: what the planner may read of the cluster — the informers'
// caches, never the API server. Tests hand it a map.
#pragma once

#include <optional>

#include "absl/strings/string_view.h"
#include "kube/object.h"
#include "kube/resource.h"

namespace controllers {

// Objects handed out are the cache's own documents: the cache marks one
// superseded (kube::Object::MarkSuperseded) when it replaces or drops it, as
// informer::Store does; the reconciler's pass memo relies on that.
class ClusterState {
 public:
  virtual ~ClusterState() = default;
  virtual std::optional<kube::Object> Get(const kube::Resource& r, absl::string_view ns,
                                          absl::string_view name) const = 0;
};

}  // namespace controllers
