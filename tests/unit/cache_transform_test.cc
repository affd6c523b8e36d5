// The informers' transform on ingest: whatever it drops, an object the
// operator applied must still compare equal under the planner's subset check
// (or every resync would write), and the cached bytes must shrink.
#include "controllers/environment/cache_transform.h"

#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "api/v1alpha1/environment.h"
#include "api/v1alpha1/project.h"
#include "api/v1alpha1/resources.h"
#include "controllers/environment/event_mapping.h"
#include "controllers/environment/manifests.h"
#include "controllers/environment/naming.h"
#include "controllers/environment/planner.h"
#include "controllers/environment/resolve.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "informer/informer.h"
#include "kube/subset.h"
#include "support/catalyst.h"
#include "support/environment_fixture.h"
#include "support/fake_cluster_state.h"
#include "support/mock_lister_watcher.h"

namespace controllers {
namespace {

namespace r = kube::resources;
using rapidjson::Value;

kube::Object Must(absl::string_view json) {
  absl::StatusOr<kube::Object> o = kube::Object::Parse(json);
  EXPECT_TRUE(o.ok()) << o.status();
  return o.ok() ? *o : kube::Object();
}

// A JSON value to splice in: parsed into the target's allocator.
Value ToValue(absl::string_view json, rapidjson::Document::AllocatorType& a) {
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  return Value(d, a);
}

// Sets path to json unless it is there already (the server keeps what was
// sent); into every element where the path crosses an array. Missing objects
// on the way are created only when create says so (not for an absent list).
void SetAt(Value& v, std::vector<std::string> path, absl::string_view json,
           rapidjson::Document::AllocatorType& a, bool create) {
  if (v.IsArray()) {
    for (Value& e : v.GetArray()) SetAt(e, path, json, a, create);
    return;
  }
  if (!v.IsObject()) return;
  const std::string key = path.front();
  path.erase(path.begin());
  if (!v.HasMember(key.c_str())) {
    if (path.empty()) {
      v.AddMember(Value(key.c_str(), a), ToValue(json, a), a);
      return;
    }
    if (!create) return;
    v.AddMember(Value(key.c_str(), a), Value(rapidjson::kObjectType), a);
  }
  if (path.empty()) return;
  SetAt(v[key.c_str()], path, json, a, create);
}

// What kube-apiserver (1.20) returns for an applied manifest: the manifest
// plus identity, managedFields, defaults and status. Only the fields that
// matter here (kind by kind, as a real server adds them), not all of them.
kube::Object AsServerReturns(const kube::Object& desired) {
  rapidjson::Document d;
  d.CopyFrom(desired.json(), d.GetAllocator());
  auto& a = d.GetAllocator();
  auto set = [&](std::vector<std::string> path, absl::string_view json, bool create = true) {
    SetAt(d, std::move(path), json, a, create);
  };
  set({"metadata", "uid"}, R"("0c3c5b44-6d0a-4f4e-9a39-3f2b0f1b2c3d")");
  set({"metadata", "resourceVersion"}, R"("123456")");
  set({"metadata", "creationTimestamp"}, R"("2026-11-27T16:21:48Z")");
  set({"metadata", "selfLink"}, R"("/apis/x/v1/namespaces/n/things/t")");
  const absl::string_view kind = desired.Kind();
  if (kind == "Deployment") {
    set({"metadata", "generation"}, "1");
    set({"metadata", "annotations", "deployment.kubernetes.io/revision"}, R"("1")");
    set({"spec", "progressDeadlineSeconds"}, "600");
    // (securityContext is the operator's own: the server keeps what was sent.)
    for (const char* f :
         {"dnsPolicy", "restartPolicy", "schedulerName", "terminationGracePeriodSeconds"})
      set({"spec", "template", "spec", f}, "1");
    for (const char* list : {"containers", "initContainers"}) {
      set({"spec", "template", "spec", list, "imagePullPolicy"}, R"("IfNotPresent")", false);
      set({"spec", "template", "spec", list, "terminationMessagePath"}, R"("/dev/termination-log")",
          false);
      set({"spec", "template", "spec", list, "readinessProbe", "timeoutSeconds"}, "1", false);
      set({"spec", "template", "spec", list, "readinessProbe", "failureThreshold"}, "3", false);
    }
    set({"status"},
        R"({"observedGeneration":1,"replicas":1,"updatedReplicas":1,"readyReplicas":1,
            "availableReplicas":1,"conditions":[{"type":"Available","status":"True",
            "lastUpdateTime":"2026-11-27T16:21:50Z","lastTransitionTime":"2026-11-27T16:21:50Z",
            "reason":"MinimumReplicasAvailable","message":"Deployment has minimum availability."},
            {"type":"Progressing","status":"True","lastUpdateTime":"2026-11-27T16:21:50Z",
            "lastTransitionTime":"2026-11-27T16:21:48Z","reason":"NewReplicaSetAvailable",
            "message":"ReplicaSet \"web-6d4cf56db6\" has successfully progressed."}]})");
  } else if (kind == "Service") {
    set({"spec", "clusterIP"}, R"("10.96.12.34")");
    set({"spec", "clusterIPs"}, R"(["10.96.12.34"])");
    set({"spec", "sessionAffinity"}, R"("None")");
    set({"status"}, R"({"loadBalancer":{}})");
  } else if (kind == "PersistentVolumeClaim") {
    set({"metadata", "finalizers"}, R"(["kubernetes.io/pvc-protection"])");
    set({"metadata", "annotations", "pv.kubernetes.io/bind-completed"}, R"("yes")");
    set({"spec", "storageClassName"}, R"("standard")");
    set({"spec", "volumeMode"}, R"("Filesystem")");
    set({"spec", "volumeName"}, R"("pvc-0c3c5b44-6d0a-4f4e-9a39-3f2b0f1b2c3d")");
    set({"status"},
        R"({"phase":"Bound","accessModes":["ReadWriteOnce"],"capacity":{"storage":"1Gi"}})");
  } else if (kind == "ResourceQuota") {
    set({"status"},
        R"({"hard":{"limits.memory":"8Gi","pods":"20","requests.cpu":"4",
            "requests.memory":"8Gi","requests.storage":"20Gi"},
            "used":{"limits.memory":"2560Mi","pods":"2","requests.cpu":"350m",
            "requests.memory":"2560Mi","requests.storage":"6Gi"}})");
  } else if (kind == "Ingress") {
    set({"metadata", "generation"}, "1");
    set({"status"}, R"({"loadBalancer":{}})");
  } else if (kind == "NetworkPolicy") {
    set({"metadata", "generation"}, "1");
  } else if (kind == "Namespace") {
    set({"spec"}, R"({"finalizers":["kubernetes"]})");
    set({"status"}, R"({"phase":"Active"})");
  }
  return kube::Object::Copy(d);
}

const kube::Resource& ResourceOf(absl::string_view kind) {
  const kube::Resource* res = v1alpha1::ForKind(kind);
  EXPECT_TRUE(res) << kind;
  return res ? *res : r::kPods;
}

kube::Object Transformed(const kube::Object& o) {
  ObjectTransform t = CacheTransform(ResourceOf(o.Kind()));
  EXPECT_TRUE(t) << o.Kind();
  return t ? t(o) : o;
}

std::string SpecJson(absl::string_view type, bool labels) {
  using kube::J;
  testing_support::EnvironmentBuilder env;
  env.Name("pr-123")
      .Namespace("my-team-my-project")
      .Uid("6f1c1a52-3c8e-4c1e-9d6a-0b2f1f7e8a11")
      .Generation(3)
      .Spec(J::Obj(
          {{"type", type},
           {"sources", J::Arr({J::Obj({{"name", "web"},
                                       {"repositoryUrl", "https://github.com/org/repo"},
                                       {"branch", "feature/login"},
                                       {"commitSha", "a1b2c3d"}})})},
           {"config",
            J::Obj({{"image", "ghcr.io/org/app:sha"},
                    {"envVars", J::Arr({J::Obj({{"name", "DEBUG"}, {"value", "true"}}),
                                        J::Obj({{"name", "PORT"}, {"value", "4000"}})})}})}}));
  if (labels)
    env.Label("catalyst.dev/team", "my-team")
        .Label("catalyst.dev/project", "my-project")
        .Label("catalyst.dev/environment", "pr-123");
  return env.Json();
}

Desired ResolveJson(const std::string& env_json, const std::string& project_json = "",
                    bool registry = false, const OperatorConfig& cfg = {}) {
  auto env = v1alpha1::ParseEnvironment(Must(env_json));
  EXPECT_TRUE(env.ok()) << env.status();
  std::optional<v1alpha1::ProjectSpec> project;
  if (!project_json.empty()) {
    auto p = v1alpha1::ParseProject(Must(project_json));
    EXPECT_TRUE(p.ok()) << p.status();
    project = *p;
  }
  auto d = Resolve({*env, *TargetNamespace(*env), project ? &*project : nullptr, cfg, registry});
  EXPECT_TRUE(d.ok()) << d.status();
  return *d;
}

Desired Spec(absl::string_view type, bool labels) { return ResolveJson(SpecJson(type, labels)); }

// The real client's Environment (the nextjs preset with probes, init
// containers, a postgres service and a volume) under its Project, with pull
// credentials; and a workspace.
std::vector<Desired> RealClient() {
  testing_support::EnvironmentFields workspace;
  workspace.extra_spec = R"("deploymentMode":"workspace",)";
  workspace.uid = "u-2";
  testing_support::EnvironmentFields dev;
  dev.uid = "u-1";
  const std::string project = testing_support::ProjectJson({});
  return {ResolveJson(testing_support::EnvironmentJson(dev), project, true),
          ResolveJson(testing_support::EnvironmentJson(workspace), project, false)};
}

const kube::Object kRegistrySource = Must(
    R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"registry-credentials",
        "namespace":"my-team"},"type":"kubernetes.io/dockerconfigjson",
        "data":{".dockerconfigjson":"e30="}})");

// Every builder's output, for both Environment types and the optional
// configuration (storage and ingress class set or left to the cluster), and
// for what the real client sends.
std::vector<kube::Object> EveryBuilderOutput() {
  std::vector<kube::Object> out;
  for (absl::string_view type : {"development", "deployment"})
    for (bool optional : {false, true}) {
      const Desired d = Spec(type, optional);
      OperatorConfig cfg;
      cfg.storage_class = optional ? "fast" : "";
      cfg.ingress_class = optional ? "nginx" : "";
      for (Built& b : BuildAll(d, cfg)) out.push_back(std::move(b.object));
    }
  for (const Desired& d : RealClient())
    for (Built& b : BuildAll(d, OperatorConfig{}, kRegistrySource))
      out.push_back(std::move(b.object));
  // The team's secrets (envFrom, their hash) and git-clone's projected token.
  Desired web_app = RealClient().front();
  web_app.team_secrets = std::vector<std::pair<std::string, std::string>>{{"API_KEY", "djE="}};
  web_app.team_secrets_hash = "0123456789abcdef";
  web_app.main.volumes.push_back({kGitTokenVolume, "", true});
  for (Built& b : BuildAll(web_app, OperatorConfig{})) out.push_back(std::move(b.object));
  return out;
}

std::string Where(const kube::Object& o) { return absl::StrCat(o.Kind(), "/", o.Name()); }

TEST(CacheTransformTest, KeepsEveryFieldTheBuildersSet) {
  // The builder's own output through the transform comes back whole: every
  // path the subset check walks is kept.
  for (const kube::Object& desired : EveryBuilderOutput())
    EXPECT_EQ(Transformed(desired).Serialize(), desired.Serialize()) << Where(desired);
}

TEST(CacheTransformTest, AppliedObjectsStillCompareEqualAndShrink) {
  for (const kube::Object& desired : EveryBuilderOutput()) {
    const kube::Object server = AsServerReturns(desired);
    ASSERT_TRUE(kube::IsSubset(desired.json(), server.json())) << Where(desired);
    const kube::Object cached = Transformed(server);
    EXPECT_TRUE(kube::IsSubset(desired.json(), cached.json())) << Where(desired) << "\n"
                                                               << cached.Serialize();
    EXPECT_LT(cached.Serialize().size(), server.Serialize().size()) << Where(desired);
    // What the store, the handlers and the planner read of every object.
    EXPECT_EQ(cached.Key(), server.Key());
    EXPECT_EQ(cached.ResourceVersion(), "123456");
    EXPECT_EQ(cached.Uid(), server.Uid());
    EXPECT_EQ(OwnerKey(cached), OwnerKey(desired));
    EXPECT_FALSE(OwnerKey(cached).empty());
    EXPECT_EQ(cached.Label(kEnvironmentUidLabel), desired.Label(kEnvironmentUidLabel));
  }
}

TEST(CacheTransformTest, DeploymentKeepsWhatReadinessReadsAndDropsTheRest) {
  const Desired d = Spec("development", true);
  const kube::Object server = AsServerReturns(BuildDeployment(d, d.main));
  const kube::Object cached = Transformed(server);
  EXPECT_EQ(cached.Generation(), 1);
  EXPECT_EQ(cached.Int({"status", "observedGeneration"}), 1);
  EXPECT_EQ(cached.Int({"status", "readyReplicas"}), 1);
  EXPECT_EQ(cached.Int({"status", "updatedReplicas"}), 1);
  EXPECT_EQ(cached.Find({"status", "conditions"}), nullptr);
  EXPECT_EQ(cached.Find({"metadata", "creationTimestamp"}), nullptr);
  EXPECT_EQ(cached.Find({"metadata", "selfLink"}), nullptr);
  EXPECT_EQ(cached.Find({"spec", "progressDeadlineSeconds"}), nullptr);
  EXPECT_EQ(cached.Find({"spec", "template", "spec", "dnsPolicy"}), nullptr);
  const Value* containers = cached.Find({"spec", "template", "spec", "initContainers"});
  ASSERT_TRUE(containers && containers->IsArray());
  EXPECT_EQ(containers->Size(), 3u) << "array elements are never dropped";
  for (const Value& c : containers->GetArray()) {
    EXPECT_EQ(kube::Member(c, "imagePullPolicy"), nullptr);
    EXPECT_NE(kube::Member(c, "image"), nullptr);
  }
}

TEST(CacheTransformTest, NamespaceKeepsOwnershipAndDeletion) {
  const kube::Object ns = Transformed(Must(
      R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a","uid":"u",
          "resourceVersion":"9","deletionTimestamp":"2026-01-01T00:00:00Z",
          "labels":{"catalyst.dev/environment-uid":"u-1"}},
          "spec":{"finalizers":["kubernetes"]},"status":{"phase":"Terminating"}})"));
  EXPECT_TRUE(ns.Deleting());
  EXPECT_EQ(ns.Label("catalyst.dev/environment-uid"), "u-1");
  EXPECT_EQ(ns.Find({"spec"}), nullptr);
  EXPECT_EQ(ns.Find({"status"}), nullptr);
}

TEST(CacheTransformTest, EnvironmentKeepsSpecStatusFinalizersAndCreation) {
  const std::string json =
      R"({"apiVersion":"catalyst.catalyst.dev/v1alpha1","kind":"Environment",
          "metadata":{"name":"pr-1","namespace":"team","uid":"u-1","generation":2,
          "resourceVersion":"7","creationTimestamp":"2026-11-27T16:20:01Z",
          "finalizers":["catalyst.dev/finalizer"],"labels":{"catalyst.dev/team":"t"},
          "selfLink":"/apis/catalyst.catalyst.dev/v1alpha1/namespaces/team/environments/pr-1"},
          "spec":{"type":"development","projectRef":{"name":"p"},
          "sources":[{"name":"web","repositoryUrl":"https://github.com/org/repo"}]},
          "status":{"phase":"Ready","observedGeneration":2,"conditions":[{"type":"Ready"}]}})";
  const kube::Object env = Must(json);
  const kube::Object cached = Transformed(env);
  EXPECT_EQ(cached.Find({"metadata", "selfLink"}), nullptr);
  // Everything else is read: the planner, ParseEnvironment, the Ready timer.
  rapidjson::Document expected;
  expected.CopyFrom(env.json(), expected.GetAllocator());
  expected["metadata"].RemoveMember("selfLink");
  EXPECT_EQ(cached.Serialize(), kube::Object::Copy(expected).Serialize());
  absl::StatusOr<v1alpha1::EnvironmentSpec> spec = v1alpha1::ParseEnvironment(cached);
  EXPECT_TRUE(spec.ok()) << spec.status();
}

TEST(CacheTransformTest, OnlyTheCachedResourcesHaveOne) {
  EXPECT_FALSE(CacheTransform(r::kPods));
  EXPECT_FALSE(CacheTransform(r::kLeases));
  EXPECT_TRUE(CacheTransform(r::kDeployments));
}

TEST(CacheTransformTest, AScalarWhereTheMaskExpectsAnObjectIsKept) {
  // Not what a server sends; kept so that the subset check, not the
  // transform, decides.
  const kube::Object o = Transformed(Must(
      R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"s","namespace":"n"},
          "spec":"odd"})"));
  EXPECT_EQ(o.Str({"spec"}), "odd");
}

TEST(CacheTransformTest, TheCachedCopyIsSmaller) {
  // The builders' web Deployment as served, cached as decoded versus
  // transformed. Sizes as JSON: the same under every allocator (the heap
  // figures are bench/informer_bench's).
  const Desired d = Spec("development", true);
  const std::string served = AsServerReturns(BuildDeployment(d, d.main)).Serialize();
  const size_t full = Must(served).Serialize().size();
  const size_t slim = CacheTransform(r::kDeployments)(Must(served)).Serialize().size();
  // Most of what is kept is the git-clone script (about 1.2 KB).
  EXPECT_LT(slim * 100, full * 85) << "full " << full << " B, transformed " << slim << " B";
}

// The informer applies its transform to listed, watched and deleted objects
// before the store and the handlers see them.
class Recorder : public informer::EventHandler {
 public:
  void OnAdd(const kube::Object& o) override { Record(o); }
  void OnUpdate(const kube::Object&, const kube::Object& o) override { Record(o); }
  void OnDelete(const kube::Object& o) override { Record(o); }
  std::vector<std::string> Seen() {
    std::lock_guard<std::mutex> l(mu_);
    return seen_;
  }

 private:
  void Record(const kube::Object& o) {
    std::lock_guard<std::mutex> l(mu_);
    seen_.push_back(o.Serialize());
  }
  std::mutex mu_;
  std::vector<std::string> seen_;
};

TEST(InformerTransformTest, ListWatchAndDeleteAreTransformed) {
  using testing_support::Event;
  using testing_support::Obj;
  using Type = kube::WatchEvent::Type;
  auto lw = std::make_unique<testing_support::MockListerWatcher>();
  EXPECT_CALL(*lw, List(::testing::_))
      .WillOnce(::testing::Return(kube::ListResult{"10", "", {Obj("n", "a", "1")}}));
  EXPECT_CALL(*lw, Watch(::testing::_, ::testing::_, ::testing::_))
      .WillOnce([](const kube::WatchOptions&, util::Cancellation& cancel,
                   absl::FunctionRef<bool(kube::WatchEvent)> on_event) {
        on_event(Event(Type::kAdded, Obj("n", "b", "2")));
        on_event(Event(Type::kDeleted, Obj("n", "a", "3")));
        cancel.WaitFor(absl::Seconds(30));
        return absl::CancelledError("cancelled");
      })
      .WillRepeatedly([](const kube::WatchOptions&, util::Cancellation& cancel,
                         absl::FunctionRef<bool(kube::WatchEvent)>) {
        cancel.WaitFor(absl::Seconds(30));
        return absl::CancelledError("cancelled");
      });
  // Keeps only the metadata's name, namespace and resourceVersion.
  informer::Informer inf(
      std::move(lw),
      {.reflector = {.name = "t"}, .transform = [](kube::Object o) {
         return Must(absl::StrCat(R"({"metadata":{"name":")", o.Name(), R"(","namespace":")",
                                  o.Namespace(), R"(","resourceVersion":")", o.ResourceVersion(),
                                  R"("}})"));
       }});
  Recorder rec;
  inf.AddHandler(&rec);
  inf.Start();
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (rec.Seen().size() < 3 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(2));
  inf.Stop();
  const std::string kA = R"({"metadata":{"name":"a","namespace":"n","resourceVersion":"1"}})";
  const std::string kB = R"({"metadata":{"name":"b","namespace":"n","resourceVersion":"2"}})";
  const std::string kGoneA = R"({"metadata":{"name":"a","namespace":"n","resourceVersion":"3"}})";
  EXPECT_THAT(rec.Seen(), ::testing::ElementsAre(kA, kB, kGoneA));
  ASSERT_EQ(inf.store().Size(), 1u);
  EXPECT_EQ(inf.store().Get("n/b")->Serialize(), kB);
}

// The planner over a cache of transformed objects: once everything is
// applied and ready, a pass (a resync) sends nothing.
TEST(CacheTransformTest, APassOverATransformedCacheSendsNothing) {
  for (absl::string_view type : {"development", "deployment"}) {
    using kube::J;
    const kube::Object env = CacheTransform(v1alpha1::kEnvironments)(
        testing_support::EnvironmentBuilder()
            .Finalizer()
            .Spec(J::Obj(
                {{"type", type},
                 {"projectRef", J::Obj({{"name", "p"}})},
                 {"config",
                  J::Obj({{"image", "ghcr.io/org/app:1"},
                          {"envVars", J::Arr({J::Obj({{"name", "DEBUG"}, {"value", "1"}})})}})},
                 {"sources",
                  J::Arr({J::Obj(
                      {{"name", "web"}, {"repositoryUrl", "https://github.com/org/repo"}})})}}))
            .Build());
    // Plays the API server: stores what was applied as a server returns it,
    // through the informer's transform.
    testing_support::FakeClusterState state;
    auto stored = [](const Action& a) {
      return CacheTransform(a.resource)(AsServerReturns(a.body));
    };
    const OperatorConfig cfg;
    const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
    Plan p;
    for (int i = 0; i < 4; ++i) {  // namespace..postgres, web, then settled
      p = PlanEnvironment({env, state, cfg, now});
      state.Commit(p, stored);
    }
    EXPECT_EQ(p.phase, v1alpha1::Phase::kReady) << type;
    p = PlanEnvironment({env, state, cfg, now});
    EXPECT_TRUE(p.actions.empty()) << type << ": " << p.actions.size() << " actions, first "
                                   << (p.actions.empty() ? "" : p.actions[0].name);
  }
}

}  // namespace
}  // namespace controllers
