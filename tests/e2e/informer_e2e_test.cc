// Informers against the real API server: they see what changes, and they
// come back by themselves after the API server goes away and returns.
#include <cstdlib>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/v1alpha1/resources.h"
#include "e2e/harness.h"
#include "gtest/gtest.h"
#include "informer/informer.h"

namespace e2e {
namespace {

using namespace kube::resources;

class Recorder : public informer::EventHandler {
 public:
  void OnAdd(const kube::Object& o) override { Record("add:" + std::string(o.Name())); }
  void OnUpdate(const kube::Object& old, const kube::Object& o) override {
    if (old.ResourceVersion() != o.ResourceVersion()) Record("update:" + std::string(o.Name()));
  }
  void OnDelete(const kube::Object& o) override { Record("delete:" + std::string(o.Name())); }
  bool Saw(const std::string& what) {
    std::lock_guard l(mu_);
    return std::find(seen_.begin(), seen_.end(), what) != seen_.end();
  }
  std::string All() {
    std::lock_guard l(mu_);
    return absl::StrJoin(seen_, ",");
  }

 private:
  void Record(std::string s) {
    std::lock_guard l(mu_);
    seen_.push_back(std::move(s));
  }
  std::mutex mu_;
  std::vector<std::string> seen_;
};

std::unique_ptr<informer::Informer> Start(kube::Resource r, std::string ns, std::string selector,
                                          Recorder* rec) {
  auto inf = std::make_unique<informer::Informer>(
      std::make_unique<informer::ClientListerWatcher>(&Admin(), r, std::move(ns),
                                                      std::move(selector)),
      informer::InformerOptions{
          .reflector = {.name = std::string(r.plural), .backoff_cap = absl::Seconds(2)}});
  inf->AddHandler(rec);
  inf->Start();
  EXPECT_TRUE(WaitFor(absl::Seconds(20), [&] { return inf->HasSynced(); }));
  return inf;
}

std::string ConfigMap(absl::string_view name) {
  return absl::StrCat(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")", name,
                      R"("}})");
}

TEST(InformerE2E, SeesDeploymentsNamespacesAndCustomResources) {
  TestNamespace ns("inf");
  ASSERT_TRUE(Kubectl({"apply", "-f", SOURCE_ROOT "/crds/"}).ok());
  Recorder deploys, namespaces, envs;
  auto d = Start(kDeployments, ns.name(), "", &deploys);
  auto n = Start(kNamespaces, "", "e2e=true", &namespaces);
  ASSERT_TRUE(WaitFor(absl::Seconds(30), [&] {
    return Admin().List(v1alpha1::kEnvironments, ns.name(), {}).ok();  // CRD established
  }));
  auto e = Start(v1alpha1::kEnvironments, ns.name(), "", &envs);
  EXPECT_TRUE(namespaces.Saw("add:" + ns.name())) << namespaces.All();

  ASSERT_TRUE(Admin()
                  .Create(kDeployments, ns.name(), R"({"apiVersion":"apps/v1","kind":"Deployment",
      "metadata":{"name":"web"},"spec":{"replicas":0,"selector":{"matchLabels":{"a":"b"}},
      "template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"x"}]}}}})")
                  .ok());
  ASSERT_TRUE(Admin()
                  .Create(v1alpha1::kEnvironments, ns.name(),
                          R"({"apiVersion":"catalyst.catalyst.dev/v1alpha1",
      "kind":"Environment","metadata":{"name":"pr-1"},"spec":{"type":"development"}})")
                  .ok());
  ASSERT_TRUE(
      WaitFor(absl::Seconds(20), [&] { return deploys.Saw("add:web") && envs.Saw("add:pr-1"); }))
      << deploys.All() << " | " << envs.All();
  ASSERT_TRUE(Admin()
                  .Patch(kDeployments, ns.name(), "web", kube::PatchType::kMerge,
                         R"({"spec":{"replicas":1}})")
                  .ok());
  ASSERT_TRUE(Admin().Delete(v1alpha1::kEnvironments, ns.name(), "pr-1").ok());
  EXPECT_TRUE(WaitFor(absl::Seconds(20),
                      [&] { return deploys.Saw("update:web") && envs.Saw("delete:pr-1"); }))
      << deploys.All() << " | " << envs.All();
  // The cache holds slim objects: managedFields never reach memory.
  auto cached = d->store().Get(ns.name() + "/web");
  ASSERT_TRUE(cached);
  EXPECT_EQ(cached->Find({"metadata", "managedFields"}), nullptr);
  EXPECT_NE(cached->Find({"spec", "template"}), nullptr);

  // A namespace outside the selector is not cached.
  TestNamespace other("inf-other");
  ASSERT_TRUE(Admin()
                  .Patch(kNamespaces, "", other.name(), kube::PatchType::kMerge,
                         R"({"metadata":{"labels":{"e2e":"no"}}})")
                  .ok());
  EXPECT_TRUE(WaitFor(absl::Seconds(20), [&] { return namespaces.Saw("delete:" + other.name()); }))
      << "leaving the selector is a delete: " << namespaces.All();
  (void)e;
  (void)n;
}

TEST(InformerE2E, RecoversAfterTheApiServerRestarts) {
  TestNamespace ns("inf-restart");
  Recorder cms;
  auto inf = Start(kConfigMaps, ns.name(), "", &cms);
  ASSERT_TRUE(Admin().Create(kConfigMaps, ns.name(), ConfigMap("before")).ok());
  ASSERT_TRUE(WaitFor(absl::Seconds(20), [&] { return cms.Saw("add:before"); })) << cms.All();

  const std::string ctl = SOURCE_ROOT "/scripts/cluster-ctl.sh";
  ASSERT_EQ(std::system((ctl + " stop kube-apiserver").c_str()), 0);
  EXPECT_TRUE(WaitFor(absl::Seconds(20), [&] { return !inf->reflector().Watching(); }));
  ASSERT_EQ(std::system((ctl + " start kube-apiserver").c_str()), 0);
  ASSERT_TRUE(WaitFor(absl::Seconds(60), [] {
    return Admin().Get(kNamespaces, "", "default").ok();
  })) << "API server did not come back";

  ASSERT_TRUE(Admin().Create(kConfigMaps, ns.name(), ConfigMap("after")).ok());
  ASSERT_TRUE(Admin().Delete(kConfigMaps, ns.name(), "before").ok());
  EXPECT_TRUE(WaitFor(absl::Seconds(60), [&] {
    return cms.Saw("add:after") && cms.Saw("delete:before");
  })) << cms.All();
  EXPECT_TRUE(inf->HasSynced());
  EXPECT_GE(inf->reflector().Stats().errors, 1);
  EXPECT_TRUE(WaitForControllers(absl::Seconds(120)));
}

}  // namespace
}  // namespace e2e
