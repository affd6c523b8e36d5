#include "e2e/catalyst_client.h"

#include <cctype>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "api/v1alpha1/resources.h"
#include "gtest/gtest.h"
#include "kube/api_error.h"

namespace e2e {

using testing_support::EnvironmentFields;
using testing_support::ProjectFields;
using testing_support::WebAppNamespace;
using testing_support::WebAppSanitize;

std::string Random() { return absl::StrCat(absl::Uniform<uint32_t>(absl::BitGen(), 0, 1u << 24)); }

// createProjectCR, and on 409 updateProjectCR: GET, replace the spec, PUT whole.
void SyncProject(const ProjectFields& p) {
  const std::string json = testing_support::ProjectJson(p);
  const std::string ns = WebAppSanitize(p.team);
  auto created = Admin().Create(v1alpha1::kProjects, ns, json);
  if (created.ok()) return;
  ASSERT_TRUE(kube::apierrors::IsConflict(created.status()) ||
              kube::apierrors::IsAlreadyExists(created.status()))
      << created.status();
  auto existing = Admin().Get(v1alpha1::kProjects, ns, p.name);
  ASSERT_TRUE(existing.ok()) << existing.status();
  auto desired = kube::Object::Parse(json);
  ASSERT_TRUE(desired.ok());
  rapidjson::Document body;
  body.CopyFrom(existing->json(), body.GetAllocator());
  body["spec"].CopyFrom(*desired->Find({"spec"}), body.GetAllocator());
  auto updated =
      Admin().Update(v1alpha1::kProjects, ns, p.name, kube::Object::Copy(body).Serialize());
  ASSERT_TRUE(updated.ok()) << updated.status();
}

// createEnvironmentCR, then patchEnvironmentCRAnnotations (a JSON merge patch).
void CreateEnvironment(const EnvironmentFields& e, const std::string& id) {
  auto created = Admin().Create(v1alpha1::kEnvironments, e.ns, testing_support::EnvironmentJson(e));
  ASSERT_TRUE(created.ok()) << created.status();
  auto patched = Admin().Patch(
      v1alpha1::kEnvironments, e.ns, e.name, kube::PatchType::kMerge,
      absl::StrCat(R"({"apiVersion":"catalyst.catalyst.dev/v1alpha1","kind":"Environment",)",
                   R"("metadata":{"name":")", e.name, R"(","namespace":")", e.ns,
                   R"(","annotations":{"catalyst.dev/environment-id":")", id, R"("}}})"));
  ASSERT_TRUE(patched.ok()) << patched.status();
}

// "status/reason/message" of a condition, "" when absent.
std::string Condition(const kube::Object& env, absl::string_view type) {
  const auto* conds = env ? env.Find({"status", "conditions"}) : nullptr;
  if (!conds || !conds->IsArray()) return "";
  for (const auto& c : conds->GetArray())
    if (kube::StrOf(kube::Member(c, "type")) == type)
      return absl::StrCat(kube::StrOf(kube::Member(c, "status")), "/",
                          kube::StrOf(kube::Member(c, "reason")), "/",
                          kube::StrOf(kube::Member(c, "message")));
  return "";
}

}  // namespace e2e
