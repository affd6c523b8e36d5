// libFuzzer target: arbitrary bytes through everything a tenant writes that
// the operator parses. The bytes are read as an Environment and as a Project
// (ParseEnvironment, ParseProject), their configs are merged both ways
// (ParseConfig, MergeConfig), and the bytes themselves are a quantity
// (CanonicalQuantity, QuantityValue). Errors are fine; crashes, hangs,
// undefined behaviour, leaks and out-of-bounds reads are not. A quantity that
// parses must canonicalize to itself and keep its value.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "api/v1alpha1/config.h"
#include "api/v1alpha1/environment.h"
#include "api/v1alpha1/problems.h"
#include "api/v1alpha1/project.h"
#include "kube/object.h"
#include "kube/quantity.h"

namespace {

void CheckQuantity(absl::string_view q) {
  absl::StatusOr<std::string> c = kube::CanonicalQuantity(q);
  absl::StatusOr<double> v = kube::QuantityValue(q);
  if (c.ok() != v.ok()) __builtin_trap();
  if (!c.ok()) return;
  // The canonical form is what the server stores: it parses, to itself, with
  // the value of the original (both rounded up to 1m already).
  absl::StatusOr<std::string> again = kube::CanonicalQuantity(*c);
  absl::StatusOr<double> cv = kube::QuantityValue(*c);
  if (!again.ok() || *again != *c || !cv.ok() || *cv != *v) __builtin_trap();
}

// Every container's quantities, as the builders read them.
void TouchResources(const v1alpha1::Container& c) {
  if (!c.resources) return;
  for (const auto* list : {&c.resources->requests, &c.resources->limits})
    for (const auto& [name, q] : *list) CheckQuantity(q);
}

void Touch(const v1alpha1::Config& c) {
  TouchResources(c.container);
  if (c.init_containers)
    for (const auto& i : *c.init_containers) TouchResources(i);
  if (c.services)
    for (const auto& s : *c.services) {
      TouchResources(s.container);
      if (s.storage) CheckQuantity(s.storage->storage);
    }
  if (c.volumes)
    for (const auto& v : *c.volumes)
      if (v.claim) CheckQuantity(v.claim->storage);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  CheckQuantity(text);

  absl::StatusOr<kube::Object> obj = kube::Object::Parse(text);
  if (!obj.ok()) return 0;

  absl::StatusOr<v1alpha1::EnvironmentSpec> env = v1alpha1::ParseEnvironment(*obj);
  if (env.ok()) {
    (void)env->Mode();
    (void)env->WebSource();
    Touch(env->config);
  }
  absl::StatusOr<v1alpha1::ProjectSpec> project = v1alpha1::ParseProject(*obj);
  if (project.ok()) {
    (void)project->FindSource("primary");
    (void)project->FindTemplate("development");
    if (!project->quota_cpu.empty()) CheckQuantity(project->quota_cpu);
    if (!project->quota_memory.empty()) CheckQuantity(project->quota_memory);
  }

  // The merge, also for objects that do not validate: the Environment's
  // spec.config over every template's config of the same bytes, both ways.
  v1alpha1::Problems problems;
  const rapidjson::Value* spec = obj->Find({"spec"});
  if (!spec || !spec->IsObject()) return 0;
  const v1alpha1::Config over =
      v1alpha1::ParseConfig(kube::Member(*spec, "config"), "spec.config", problems);
  std::vector<v1alpha1::Config> templates;
  if (const rapidjson::Value* t = kube::Member(*spec, "templates"); t && t->IsObject())
    for (const auto& m : t->GetObject())
      if (m.value.IsObject())
        templates.push_back(
            v1alpha1::ParseConfig(kube::Member(m.value, "config"), "spec.templates", problems));
  if (project.ok())
    for (const auto& [type, tmpl] : project->templates)
      if (tmpl.config) templates.push_back(*tmpl.config);
  for (const v1alpha1::Config& base : templates) {
    Touch(v1alpha1::MergeConfig(base, over));
    Touch(v1alpha1::MergeConfig(over, base));
  }
  (void)problems.ToStatus();
  return 0;
}
