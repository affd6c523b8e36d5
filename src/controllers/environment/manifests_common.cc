#include "controllers/environment/manifests_common.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "controllers/environment/naming.h"

namespace controllers::internal {
namespace {

using kube::J;

std::string EnvironmentRef(const Desired& d) {
  return absl::StrCat(d.env.namespace_, "/", d.env.name);
}

}  // namespace

J Labels(const Desired& d, absl::string_view app) {
  J labels = J::Obj({{kManagedByLabel, kManagedByValue},
                     {kPartOfLabel, kPartOfValue},
                     {kEnvironmentUidLabel, d.env.uid}});
  if (!app.empty()) labels.Set(kAppNameLabel, app);
  return labels;
}

J Annotations(const Desired& d) { return J::Obj({{kEnvironmentAnnotation, EnvironmentRef(d)}}); }

// metadata of a namespaced managed object.
J Metadata(const Desired& d, absl::string_view name, absl::string_view app) {
  return J::Obj({{"name", name},
                 {"namespace", d.ns},
                 {"labels", Labels(d, app)},
                 {"annotations", Annotations(d)}});
}

J Manifest(absl::string_view api_version, absl::string_view kind, J metadata, J spec) {
  return J::Obj({{"apiVersion", api_version},
                 {"kind", kind},
                 {"metadata", std::move(metadata)},
                 {"spec", std::move(spec)}});
}

}  // namespace controllers::internal
