#include "e2e/environments.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "api/v1alpha1/resources.h"
#include "e2e/harness.h"
#include "gtest/gtest.h"
#include "kube/api_error.h"

namespace e2e {

using namespace kube::resources;

kube::Object GetEnv(const std::string& ns, const std::string& name) {
  auto e = Admin().Get(v1alpha1::kEnvironments, ns, name);
  return e.ok() ? *e : kube::Object();
}

std::string Phase(const std::string& ns, const std::string& name) {
  kube::Object e = GetEnv(ns, name);
  return e ? std::string(e.Str({"status", "phase"})) : "<gone>";
}

std::string TargetNamespace(const std::string& ns, const std::string& name,
                            absl::Duration timeout) {
  std::string target;
  WaitFor(timeout, [&] {
    target = std::string(GetEnv(ns, name).Str({"status", "namespace"}));
    return !target.empty();
  });
  return target;
}

std::string DevSpec(absl::string_view sha) {
  return absl::StrCat(
      R"({"type":"development","projectRef":{"name":"p"},"sources":[{"name":"web",)",
      R"("repositoryUrl":"https://github.com/org/repo","branch":"main","commitSha":")", sha,
      R"("}]})");
}

void CreateEnv(const std::string& ns, const std::string& name, absl::string_view sha) {
  auto s = Admin().Create(
      v1alpha1::kEnvironments, ns,
      absl::StrCat(R"({"apiVersion":"catalyst.catalyst.dev/v1alpha1","kind":"Environment",)",
                   R"("metadata":{"name":")", name, R"("},"spec":)", DevSpec(sha), "}"));
  ASSERT_TRUE(s.ok()) << s.status();
}

void SetSha(const std::string& ns, const std::string& name, absl::string_view sha) {
  auto s = Admin().Patch(v1alpha1::kEnvironments, ns, name, kube::PatchType::kMerge,
                         absl::StrCat(R"({"spec":)", DevSpec(sha), "}"));
  ASSERT_TRUE(s.ok()) << s.status();
}

bool ReadyAt(const std::string& ns, const std::string& name, absl::string_view sha) {
  auto e = Admin().Get(v1alpha1::kEnvironments, ns, name);
  if (!e.ok() || e->Str({"status", "phase"}) != "Ready" ||
      e->Int({"status", "observedGeneration"}) != e->Generation())
    return false;
  auto web = Admin().Get(kDeployments, std::string(e->Str({"status", "namespace"})), "web");
  return web.ok() && absl::StrContains(web->Serialize(), sha);
}

bool StartScenario(const std::string& ns, absl::Duration timeout) {
  CreateEnv(ns, "keep", "aaaaaaa");
  CreateEnv(ns, "gone", "aaaaaaa");
  return WaitFor(timeout,
                 [&] { return ReadyAt(ns, "keep", "aaaaaaa") && ReadyAt(ns, "gone", "aaaaaaa"); });
}

void ChangeScenario(const std::string& ns) {
  CreateEnv(ns, "new", "bbbbbbb");
  SetSha(ns, "keep", "ccccccc");
  auto s = Admin().Delete(v1alpha1::kEnvironments, ns, "gone");
  ASSERT_TRUE(s.ok()) << s;
}

bool ScenarioConverged(const std::string& ns) {
  return ReadyAt(ns, "new", "bbbbbbb") && ReadyAt(ns, "keep", "ccccccc") &&
         kube::apierrors::IsNotFound(Admin().Get(v1alpha1::kEnvironments, ns, "gone").status());
}

}  // namespace e2e
