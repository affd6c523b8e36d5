// The objects of a rendered chart as the operator applies them (manifests.h).
#include "absl/strings/str_cat.h"
#include "controllers/environment/manifests.h"
#include "controllers/environment/naming.h"
#include "rapidjson/document.h"

namespace controllers {
namespace {

// Sets key to value in the object member `name` of meta (made if absent or
// not an object): the tenant's other labels and annotations stay.
void SetIn(rapidjson::Value& meta, const char* name, absl::string_view key, absl::string_view value,
           rapidjson::Document::AllocatorType& a) {
  auto it = meta.FindMember(name);
  if (it == meta.MemberEnd()) {
    meta.AddMember(rapidjson::StringRef(name), rapidjson::Value(rapidjson::kObjectType), a);
    it = meta.FindMember(name);
  } else if (!it->value.IsObject()) {
    it->value.SetObject();
  }
  rapidjson::Value v(value.data(), static_cast<rapidjson::SizeType>(value.size()), a);
  if (auto m = it->value.FindMember(rapidjson::StringRef(key.data(), key.size()));
      m != it->value.MemberEnd())
    m->value = std::move(v);
  else
    it->value.AddMember(
        rapidjson::Value(key.data(), static_cast<rapidjson::SizeType>(key.size()), a), v, a);
}

}  // namespace

kube::Object BuildRendered(const Desired& d, const kube::Object& rendered) {
  rapidjson::Document doc;
  doc.CopyFrom(rendered.json(), doc.GetAllocator());
  auto& a = doc.GetAllocator();
  rapidjson::Value& meta = doc["metadata"];  // ConfineRendered: every object has a name
  for (const auto& [k, v] :
       {std::pair<absl::string_view, absl::string_view>{kManagedByLabel, kManagedByValue},
        {kPartOfLabel, kPartOfValue},
        {kEnvironmentUidLabel, d.env.uid}})
    SetIn(meta, "labels", k, v, a);
  SetIn(meta, "annotations", kEnvironmentAnnotation,
        absl::StrCat(d.env.namespace_, "/", d.env.name), a);
  return kube::Object::Copy(doc);
}

}  // namespace controllers
