// The kubelet simulator's failure modes, read back as Kubernetes reports them.
// The operator's diagnosis (a later issue) depends on exactly these shapes.
#include "absl/strings/str_cat.h"
#include "e2e/harness.h"
#include "gtest/gtest.h"
#include "kube/api_error.h"

namespace e2e {
namespace {

using kube::resources::kConfigMaps;
using kube::resources::kPods;

// A pod with two init containers and one app container; fault is the
// simulator's annotation value ("" for none).
std::string PodJson(absl::string_view name, absl::string_view fault) {
  return absl::StrCat(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")", name,
                      R"(","annotations":{"kubelet-sim.catalyst.dev/fault":")", fault, R"("}},
    "spec":{"initContainers":[{"name":"git-clone","image":"alpine/git"},{"name":"db-migrate","image":"node:20"}],
            "containers":[{"name":"app","image":"nginx:1.19"}]}})");
}

// Creates the pod, retrying while the new namespace's ServiceAccount is not there yet.
void CreatePod(const std::string& ns, const std::string& json) {
  absl::Status last;
  ASSERT_TRUE(WaitFor(absl::Seconds(30), [&] {
    auto s = Admin().Create(kPods, ns, json);
    last = s.status();
    return s.ok();
  })) << last;
}

const rapidjson::Value* Status(const kube::Object& pod, absl::string_view list,
                               absl::string_view name) {
  const auto* statuses = pod.Find({"status", list});
  if (!statuses || !statuses->IsArray()) return nullptr;
  for (const auto& s : statuses->GetArray())
    if (kube::StrOf(kube::Member(s, "name")) == name) return &s;
  return nullptr;
}

absl::string_view At(const rapidjson::Value* v, std::initializer_list<absl::string_view> path) {
  for (auto k : path) {
    if (!v) return {};
    v = kube::Member(*v, k);
  }
  return kube::StrOf(v);
}

int64_t IntAt(const rapidjson::Value* v, std::initializer_list<absl::string_view> path) {
  for (auto k : path) {
    if (!v) return -1;
    v = kube::Member(*v, k);
  }
  return v && v->IsInt64() ? v->GetInt64() : -1;
}

std::string Condition(const kube::Object& pod, absl::string_view type, absl::string_view field) {
  const auto* conds = pod.Find({"status", "conditions"});
  if (!conds || !conds->IsArray()) return "";
  for (const auto& c : conds->GetArray())
    if (kube::StrOf(kube::Member(c, "type")) == type)
      return std::string(kube::StrOf(kube::Member(c, field)));
  return "";
}

// Waits until pred holds for the pod; on failure prints its last status.
void ExpectPod(const std::string& ns, const std::string& name,
               const std::function<bool(const kube::Object&)>& pred) {
  kube::Object last;
  bool ok = WaitFor(absl::Seconds(45), [&] {
    auto p = Admin().Get(kPods, ns, name);
    if (!p.ok()) return false;
    last = *p;
    return pred(*p);
  });
  EXPECT_TRUE(ok) << (last ? last.Serialize() : "no pod");
}

TEST(KubeletSimE2E, HealthyPodRunsInitContainersInOrderThenIsReady) {
  TestNamespace ns("sim-ok");
  CreatePod(ns.name(), PodJson("ok", ""));
  ExpectPod(ns.name(), "ok", [](const kube::Object& p) {
    return p.Str({"status", "phase"}) == "Running" && Condition(p, "Ready", "status") == "True" &&
           At(Status(p, "initContainerStatuses", "git-clone"), {"state", "terminated", "reason"}) ==
               "Completed" &&
           At(Status(p, "initContainerStatuses", "db-migrate"),
              {"state", "terminated", "reason"}) == "Completed" &&
           !At(Status(p, "containerStatuses", "app"), {"state", "running", "startedAt"}).empty() &&
           !p.Str({"spec", "nodeName"}).empty() && !p.Str({"status", "podIP"}).empty();
  });
}

TEST(KubeletSimE2E, OomKilledContainerCrashLoopsWithExit137) {
  TestNamespace ns("sim-oom");
  CreatePod(ns.name(), PodJson("oom", "app=oomkilled"));
  ExpectPod(ns.name(), "oom", [](const kube::Object& p) {
    const auto* app = Status(p, "containerStatuses", "app");
    return At(app, {"lastState", "terminated", "reason"}) == "OOMKilled" &&
           IntAt(app, {"lastState", "terminated", "exitCode"}) == 137 &&
           At(app, {"state", "waiting", "reason"}) == "CrashLoopBackOff" &&
           IntAt(app, {"restartCount"}) >= 1 && Condition(p, "Ready", "status") == "False";
  });
}

TEST(KubeletSimE2E, CrashLoopExitsWithError) {
  TestNamespace ns("sim-crash");
  CreatePod(ns.name(), PodJson("crash", "app=crashloop"));
  ExpectPod(ns.name(), "crash", [](const kube::Object& p) {
    const auto* app = Status(p, "containerStatuses", "app");
    return At(app, {"lastState", "terminated", "reason"}) == "Error" &&
           IntAt(app, {"lastState", "terminated", "exitCode"}) == 1 &&
           At(app, {"state", "waiting", "reason"}) == "CrashLoopBackOff";
  });
}

TEST(KubeletSimE2E, ImagePullBackOffNamesTheImage) {
  TestNamespace ns("sim-pull");
  CreatePod(ns.name(), PodJson("pull", "app=imagepull"));
  ExpectPod(ns.name(), "pull", [](const kube::Object& p) {
    const auto* app = Status(p, "containerStatuses", "app");
    return At(app, {"state", "waiting", "reason"}) == "ImagePullBackOff" &&
           At(app, {"state", "waiting", "message"}) == "Back-off pulling image \"nginx:1.19\"" &&
           p.Str({"status", "phase"}) == "Pending";
  });
}

TEST(KubeletSimE2E, InitContainerThatNeverFinishesBlocksTheRest) {
  TestNamespace ns("sim-hang");
  CreatePod(ns.name(), PodJson("hang", "db-migrate=init-hang"));
  ExpectPod(ns.name(), "hang", [](const kube::Object& p) {
    return At(Status(p, "initContainerStatuses", "git-clone"), {"state", "terminated", "reason"}) ==
               "Completed" &&
           !At(Status(p, "initContainerStatuses", "db-migrate"), {"state", "running", "startedAt"})
                .empty() &&
           At(Status(p, "containerStatuses", "app"), {"state", "waiting", "reason"}) ==
               "PodInitializing" &&
           Condition(p, "Initialized", "reason") == "ContainersNotInitialized" &&
           Condition(p, "Initialized", "message") ==
               "containers with incomplete status: [db-migrate]" &&
           p.Str({"status", "phase"}) == "Pending";
  });
}

TEST(KubeletSimE2E, FailingInitContainerRestarts) {
  TestNamespace ns("sim-initfail");
  CreatePod(ns.name(), PodJson("initfail", "db-migrate=init-fail"));
  ExpectPod(ns.name(), "initfail", [](const kube::Object& p) {
    const auto* m = Status(p, "initContainerStatuses", "db-migrate");
    return At(m, {"lastState", "terminated", "reason"}) == "Error" &&
           IntAt(m, {"lastState", "terminated", "exitCode"}) == 1 &&
           IntAt(m, {"restartCount"}) >= 1 && Condition(p, "Initialized", "status") == "False" &&
           p.Str({"status", "phase"}) == "Pending";
  });
}

TEST(KubeletSimE2E, ConfigMapFaultAppliesToOthersPodsAndRecovers) {
  // The faults ConfigMap lets a test break pods it did not create (the
  // operator's): keys are namespaces.
  TestNamespace ns("sim-cm");
  CreatePod(ns.name(), PodJson("victim", ""));
  auto ready = [](const kube::Object& p) { return Condition(p, "Ready", "status") == "True"; };
  ExpectPod(ns.name(), "victim", ready);
  ASSERT_TRUE(SetSimulatorFault(ns.name(), "app=oomkilled").ok());
  ExpectPod(ns.name(), "victim", [](const kube::Object& p) {
    return At(Status(p, "containerStatuses", "app"), {"lastState", "terminated", "reason"}) ==
               "OOMKilled" &&
           Condition(p, "Ready", "status") == "False";
  });
  ASSERT_TRUE(SetSimulatorFault(ns.name(), "").ok());
  ExpectPod(ns.name(), "victim", ready);
}

}  // namespace
}  // namespace e2e
