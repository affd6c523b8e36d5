// The REST resources of catalyst.catalyst.dev/v1alpha1 (crds/), for the
// client and the informers. Kept here, not in kube/resource.h: the API
// client knows Kubernetes' built-in kinds only.
#pragma once

#include "absl/strings/string_view.h"
#include "kube/resource.h"

namespace v1alpha1 {

inline constexpr kube::Resource kEnvironments{"catalyst.catalyst.dev", "v1alpha1", "environments"};
inline constexpr kube::Resource kProjects{"catalyst.catalyst.dev", "v1alpha1", "projects"};

// kube::resources::ForKind, and this group's kinds: the constant for a kind,
// or null.
inline const kube::Resource* ForKind(absl::string_view kind) {
  if (kind == "Environment") return &kEnvironments;
  if (kind == "Project") return &kProjects;
  return kube::resources::ForKind(kind);
}

}  // namespace v1alpha1
