// Shared by the manifest builders (manifests_*.cc): the labels, annotation and
// metadata every managed object carries (manifests.h).
#pragma once

#include "absl/strings/string_view.h"
#include "controllers/environment/resolve.h"
#include "kube/json_builder.h"

namespace controllers::internal {

// managed-by, part-of, the Environment's uid, and app.kubernetes.io/name when app is set.
kube::J Labels(const Desired& d, absl::string_view app);
// catalyst.dev/environment=<namespace>/<name>.
kube::J Annotations(const Desired& d);
// metadata of a namespaced managed object.
kube::J Metadata(const Desired& d, absl::string_view name, absl::string_view app = "");
kube::J Manifest(absl::string_view api_version, absl::string_view kind, kube::J metadata,
                 kube::J spec);

}  // namespace controllers::internal
