#include "support/environment_fixture.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "rapidjson/document.h"

namespace testing_support {

using kube::J;

namespace {

std::vector<std::pair<std::string, std::string>> StringMembers(const kube::Object& o,
                                                               absl::string_view field) {
  std::vector<std::pair<std::string, std::string>> out;
  const rapidjson::Value* m = o.Find({"metadata", field});
  if (m && m->IsObject())
    for (const auto& member : m->GetObject())
      if (member.value.IsString())
        out.emplace_back(member.name.GetString(), member.value.GetString());
  return out;
}

J Members(const std::vector<std::pair<std::string, std::string>>& pairs) {
  J out = J::Obj({});
  for (const auto& [k, v] : pairs) out.Set(k, v);
  return out;
}

}  // namespace

EnvironmentBuilder::EnvironmentBuilder(const kube::Object& env)
    : api_version_(env.ApiVersion()),
      name_(env.Name()),
      namespace_(env.Namespace()),
      uid_(env.Uid()),
      generation_(env.Generation()),
      resource_version_(env.ResourceVersion()),
      labels_(StringMembers(env, "labels")),
      annotations_(StringMembers(env, "annotations")),
      deletion_timestamp_(env.Str({"metadata", "deletionTimestamp"})) {
  if (const rapidjson::Value* f = env.Find({"metadata", "finalizers"}); f && f->IsArray())
    for (const auto& v : f->GetArray())
      if (v.IsString()) finalizers_.emplace_back(v.GetString());
  if (const rapidjson::Value* spec = env.Find({"spec"})) spec_ = J(kube::Object::Copy(*spec));
  if (const rapidjson::Value* status = env.Find({"status"}))
    status_ = J(kube::Object::Copy(*status));
}

EnvironmentBuilder& EnvironmentBuilder::Name(std::string name) {
  name_ = std::move(name);
  return *this;
}
EnvironmentBuilder& EnvironmentBuilder::Namespace(std::string ns) {
  namespace_ = std::move(ns);
  return *this;
}
EnvironmentBuilder& EnvironmentBuilder::Uid(std::string uid) {
  uid_ = std::move(uid);
  return *this;
}
EnvironmentBuilder& EnvironmentBuilder::Generation(int64_t generation) {
  generation_ = generation;
  return *this;
}
EnvironmentBuilder& EnvironmentBuilder::ResourceVersion(int64_t rv) {
  resource_version_ = absl::StrCat(rv);
  return *this;
}
EnvironmentBuilder& EnvironmentBuilder::Label(std::string key, std::string value) {
  Set(labels_, std::move(key), std::move(value));
  return *this;
}
EnvironmentBuilder& EnvironmentBuilder::Annotation(std::string key, std::string value) {
  Set(annotations_, std::move(key), std::move(value));
  return *this;
}
EnvironmentBuilder& EnvironmentBuilder::RemoveAnnotation(absl::string_view key) {
  annotations_.erase(std::remove_if(annotations_.begin(), annotations_.end(),
                                    [&](const auto& kv) { return kv.first == key; }),
                     annotations_.end());
  return *this;
}
EnvironmentBuilder& EnvironmentBuilder::Finalizer() {
  if (std::find(finalizers_.begin(), finalizers_.end(), "catalyst.dev/finalizer") ==
      finalizers_.end())
    finalizers_.push_back("catalyst.dev/finalizer");
  return *this;
}
EnvironmentBuilder& EnvironmentBuilder::Deleting(std::string since) {
  deletion_timestamp_ = std::move(since);
  return *this;
}
EnvironmentBuilder& EnvironmentBuilder::Type(std::string type) {
  type_ = std::move(type);
  return *this;
}
EnvironmentBuilder& EnvironmentBuilder::ProjectRef(std::string project) {
  project_ = std::move(project);
  return *this;
}
EnvironmentBuilder& EnvironmentBuilder::Spec(J spec) {
  spec_ = std::move(spec);
  return *this;
}
EnvironmentBuilder& EnvironmentBuilder::Status(J status) {
  status_ = std::move(status);
  return *this;
}
EnvironmentBuilder& EnvironmentBuilder::StatusJson(absl::string_view json) {
  if (json.empty())
    status_.reset();
  else
    status_ = J(*kube::Object::Parse(json));
  return *this;
}
EnvironmentBuilder& EnvironmentBuilder::StatusOfPatch(absl::string_view patch) {
  const kube::Object p = *kube::Object::Parse(patch);
  if (const rapidjson::Value* status = p.Find({"status"})) status_ = J(kube::Object::Copy(*status));
  return *this;
}

void EnvironmentBuilder::Set(Pairs& pairs, std::string key, std::string value) {
  for (auto& [k, v] : pairs)
    if (k == key) {
      v = std::move(value);
      return;
    }
  pairs.emplace_back(std::move(key), std::move(value));
}

kube::Object EnvironmentBuilder::Build() const {
  J metadata = J::Obj({{"name", name_}, {"namespace", namespace_}});
  if (!uid_.empty()) metadata.Set("uid", uid_);
  if (generation_ != 0) metadata.Set("generation", generation_);
  if (!resource_version_.empty()) metadata.Set("resourceVersion", resource_version_);
  if (!labels_.empty()) metadata.Set("labels", Members(labels_));
  if (!annotations_.empty()) metadata.Set("annotations", Members(annotations_));
  if (!finalizers_.empty()) metadata.Set("finalizers", J::Strings(finalizers_));
  if (!deletion_timestamp_.empty()) metadata.Set("deletionTimestamp", deletion_timestamp_);
  J env = J::Obj(
      {{"apiVersion", api_version_},
       {"kind", "Environment"},
       {"metadata", std::move(metadata)},
       {"spec", spec_ ? *spec_
                      : J::Obj({{"type", type_},
                                {"projectRef", J::Obj({{"name", project_}})},
                                {"sources", J::Arr({J::Obj({
                                                {"name", "web"},
                                                {"repositoryUrl", "https://github.com/org/repo"},
                                                {"branch", "main"},
                                            })})}})}});
  if (status_) env.Set("status", *status_);
  return env.ToObject();
}

kube::Object With(const kube::Object& o, std::initializer_list<absl::string_view> path,
                  const J& value) {
  auto doc = kube::Object::NewDocument(4096);
  auto& a = doc->GetAllocator();
  doc->CopyFrom(o.json(), a);
  // By name, not FindMember: RapidJSON 1.1's member iterators are ambiguous
  // under clang's C++20 rules (docs/development.md).
  auto member = [](rapidjson::Value& v, absl::string_view key) -> rapidjson::Value* {
    for (auto& m : v.GetObject())
      if (absl::string_view(m.name.GetString(), m.name.GetStringLength()) == key) return &m.value;
    return nullptr;
  };
  rapidjson::Value* at = doc.get();
  for (absl::string_view key : path) {
    if (!at->IsObject()) at->SetObject();
    rapidjson::Value* next = member(*at, key);
    if (!next) {
      at->AddMember(rapidjson::Value(key.data(), static_cast<rapidjson::SizeType>(key.size()), a),
                    rapidjson::Value(), a);
      next = member(*at, key);
    }
    at = next;
  }
  *at = value.ToValue(a);
  return kube::Object::Adopt(std::move(doc));
}

}  // namespace testing_support
