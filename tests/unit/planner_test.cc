#include "controllers/environment/planner.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/v1alpha1/resources.h"
#include "controllers/environment/naming.h"
#include "controllers/environment/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/catalyst.h"

namespace controllers {
namespace {

namespace r = kube::resources;

// The cluster as the informers would cache it; Commit plays the API server.
class FakeState : public ClusterState {
 public:
  std::optional<kube::Object> Get(const kube::Resource& res, absl::string_view ns,
                                  absl::string_view name) const override {
    auto it = objects_.find(Key(res, ns, name));
    if (it == objects_.end()) return std::nullopt;
    return it->second;
  }
  std::vector<kube::Object> Owned(const kube::Resource& res, absl::string_view uid) const override {
    std::vector<kube::Object> out;
    const std::string prefix = absl::StrCat(res.group, "/", res.plural, "/");
    for (const auto& [key, o] : objects_)
      if (key.compare(0, prefix.size(), prefix) == 0 &&
          o.Label("catalyst.dev/environment-uid") == uid)
        out.push_back(o);
    return out;
  }
  void Put(const kube::Resource& res, const kube::Object& o) {
    objects_[Key(res, o.Namespace(), o.Name())] = o;
  }
  // Stores applied manifests; a stored Deployment reports one ready replica
  // when `ready` says so.
  void Commit(const Plan& plan, bool deployments_ready) {
    for (const auto& a : plan.actions) {
      if (a.type == Action::Type::kApply || a.type == Action::Type::kCreate) {
        std::string json = a.body.Serialize();
        if (a.resource.plural == "deployments" && deployments_ready)
          json = json.substr(0, json.size() - 1) +
                 R"(,"status":{"observedGeneration":0,"readyReplicas":1,"updatedReplicas":1}})";
        Put(a.resource, *kube::Object::Parse(json));
      } else if (a.type == Action::Type::kDelete) {
        objects_.erase(Key(a.resource, a.ns, a.name));
      }
    }
  }
  size_t size() const { return objects_.size(); }
  std::optional<TeamSecrets> Secrets(const std::string& key) const override {
    auto it = secrets_.find(key);
    if (it == secrets_.end()) return std::nullopt;
    return it->second;
  }
  std::map<std::string, TeamSecrets> secrets_;

 private:
  static std::string Key(const kube::Resource& res, absl::string_view ns, absl::string_view name) {
    return absl::StrCat(res.group, "/", res.plural, "/", ns, "/", name);
  }
  std::map<std::string, kube::Object> objects_;
};

constexpr char kEnvJson[] = R"({"apiVersion":"catalyst.catalyst.dev/v1alpha1","kind":"Environment",
  "metadata":{"name":"pr-1","namespace":"team","uid":"u-1","generation":1,"resourceVersion":"7"%s},
  "spec":{"type":"development","projectRef":{"name":"p"},
          "sources":[{"name":"web","repositoryUrl":"https://github.com/org/repo","branch":"main"}]}%s})";

kube::Object Env(absl::string_view extra_meta = "", absl::string_view status = "") {
  std::string json = kEnvJson;
  json.replace(json.find("%s"), 2, std::string(extra_meta));
  json.replace(json.find("%s"), 2, std::string(status));
  return *kube::Object::Parse(json);
}

// The Environment as the server would hold it after the status patch.
kube::Object WithStatus(const kube::Object& env, const Plan& plan) {
  if (!plan.status_patch) return env;
  auto patch = *kube::Object::Parse(*plan.status_patch);
  std::string json = env.Serialize();
  const size_t at = json.find(",\"status\":");
  if (at != std::string::npos) json = json.substr(0, at) + "}";
  json = json.substr(0, json.size() - 1) +
         ",\"status\":" + std::string(patch.Serialize()).substr(std::string("{\"status\":").size());
  return *kube::Object::Parse(json);
}

std::vector<std::string> Names(const Plan& p) {
  std::vector<std::string> out;
  for (const auto& a : p.actions)
    out.push_back(a.type == Action::Type::kAddFinalizer
                      ? "finalizer"
                      : absl::StrCat(a.resource.plural, "/", a.name));
  return out;
}

class PlannerTest : public ::testing::Test {
 protected:
  Plan Run(const kube::Object& env, const Diagnosis* d = nullptr) {
    return PlanEnvironment({env, state_, config_, now_, d});
  }
  // Plans and commits (Deployments ready) `passes` times: the Environment as
  // the server then holds it.
  kube::Object Converge(kube::Object env, int passes) {
    for (int i = 0; i < passes; ++i) {
      Plan p = Run(env);
      state_.Commit(p, true);
      env = WithStatus(env, p);
    }
    return env;
  }
  // The team and project namespaces as the web app labels them.
  void PutWebAppNamespaces(absl::string_view team = "my-team",
                           absl::string_view project_ns = "my-team-catalyst") {
    state_.Put(r::kNamespaces,
               *kube::Object::Parse(absl::StrCat(R"({"metadata":{"name":"my-team","labels":{)",
                                                 R"("catalyst.dev/team":"my-team",)",
                                                 R"("catalyst.dev/namespace-type":"team"}}})")));
    state_.Put(r::kNamespaces,
               *kube::Object::Parse(absl::StrCat(R"({"metadata":{"name":")", project_ns,
                                                 R"(","labels":{"catalyst.dev/team":")", team,
                                                 R"(","catalyst.dev/project":"catalyst",)",
                                                 R"("catalyst.dev/namespace-type":"project"}}})")));
  }
  // A new Environment's first pass: its namespace only (committed).
  void MakeNamespace(const kube::Object& env) { state_.Commit(Run(env), false); }
  // An Environment with the finalizer after its first two passes (namespace,
  // then everything up to postgres), postgres not ready yet.
  kube::Object WaitingForPostgres() {
    kube::Object env = Env(R"(,"finalizers":["catalyst.dev/finalizer"])");
    MakeNamespace(env);
    Plan p = Run(env);
    state_.Commit(p, /*deployments_ready=*/false);
    return WithStatus(env, p);
  }
  FakeState state_;
  OperatorConfig config_;
  absl::Time now_ = absl::FromUnixSeconds(1'800'000'000);
};

// A new Environment's first pass makes its namespace only (what the web app
// shows first; in a burst every namespace comes before deeper steps), and no
// status: the pass costs what a pass doing it all would.
TEST_F(PlannerTest, FirstPassMakesTheNamespaceOnly) {
  Plan p = Run(Env());
  EXPECT_THAT(Names(p), ::testing::ElementsAre("finalizer", "namespaces/team-pr-1"));
  EXPECT_EQ(p.phase, v1alpha1::Phase::kProvisioning);
  EXPECT_EQ(p.target_namespace, "team-pr-1");
  EXPECT_FALSE(p.status_patch);
  EXPECT_FALSE(p.event);
  EXPECT_FALSE(p.requeue_after) << "the namespace's ADD event brings it back";
}

TEST_F(PlannerTest, SecondPassSetsUpEverythingUpToPostgresButNotWeb) {
  kube::Object env = Env();
  state_.Commit(Run(env), false);
  Plan p = Run(env);
  EXPECT_THAT(Names(p), ::testing::ElementsAre(
                            "finalizer", "resourcequotas/environment-quota",
                            "networkpolicies/environment-isolation", "networkpolicies/allow-web",
                            "secrets/postgres-credentials", "persistentvolumeclaims/postgres-data",
                            "deployments/postgres", "services/postgres"));
  EXPECT_EQ(p.phase, v1alpha1::Phase::kProvisioning);
  ASSERT_TRUE(p.status_patch);
  EXPECT_TRUE(p.event);
  EXPECT_TRUE(p.diagnose_selector.empty()) << "no pod listing while still applying";
}

TEST_F(PlannerTest, WebComesOnlyAfterPostgresIsReadyThenReady) {
  kube::Object env = WaitingForPostgres();
  Plan p = Run(env);
  EXPECT_TRUE(p.actions.empty());
  EXPECT_EQ(p.phase, v1alpha1::Phase::kProvisioning);
  EXPECT_EQ(p.diagnose_selector, "app.kubernetes.io/name=postgres");
  // Postgres ready: the web objects come.
  state_.Put(r::kDeployments, *kube::Object::Parse([&] {
               std::string j = state_.Get(r::kDeployments, "team-pr-1", "postgres")->Serialize();
               return j.substr(0, j.size() - 1) +
                      R"(,"status":{"readyReplicas":1,"updatedReplicas":1}})";
             }()));
  p = Run(env);
  EXPECT_THAT(Names(p), ::testing::ElementsAre("persistentvolumeclaims/workspace",
                                               "deployments/web", "services/web", "ingresses/web"));
  EXPECT_EQ(p.phase, v1alpha1::Phase::kDeploying);
  state_.Commit(p, /*deployments_ready=*/true);
  env = WithStatus(env, p);
  p = Run(env);
  EXPECT_TRUE(p.actions.empty());
  EXPECT_EQ(p.phase, v1alpha1::Phase::kReady);
  ASSERT_TRUE(p.status_patch);
  EXPECT_NE(p.status_patch->find("http://team-pr-1.preview.local"), std::string::npos);
}

TEST_F(PlannerTest, AnUpToDateEnvironmentYieldsNothing) {
  kube::Object env = Converge(Env(R"(,"finalizers":["catalyst.dev/finalizer"])"), 5);
  now_ += absl::Minutes(30);  // time alone changes nothing
  Plan p = Run(env);
  EXPECT_TRUE(p.actions.empty()) << ::testing::PrintToString(Names(p));
  EXPECT_FALSE(p.status_patch) << *p.status_patch;
  EXPECT_FALSE(p.event);
  EXPECT_EQ(p.phase, v1alpha1::Phase::kReady);
  EXPECT_TRUE(p.diagnose_selector.empty()) << "a ready environment needs no pod listing";
}

TEST_F(PlannerTest, DeletionDeletesTheOwnedNamespaceThenReleases) {
  kube::Object env = Env(R"(,"finalizers":["catalyst.dev/finalizer"])");
  state_.Commit(Run(env), true);
  kube::Object deleting =
      Env(R"(,"finalizers":["catalyst.dev/finalizer"],"deletionTimestamp":"2026-01-01T00:00:00Z")");
  Plan p = Run(deleting);
  EXPECT_THAT(Names(p), ::testing::ElementsAre("namespaces/team-pr-1"));
  EXPECT_EQ(p.actions[0].type, Action::Type::kDelete);
  EXPECT_EQ(p.phase, v1alpha1::Phase::kTerminating);
  state_.Commit(p, true);  // the namespace is gone
  p = Run(deleting);
  // Not in the cache: it is asked for (it may be too new to be cached), then released.
  ASSERT_EQ(p.actions.size(), 2u);
  EXPECT_EQ(p.actions[0].type, Action::Type::kDeleteIfOwned);
  EXPECT_EQ(p.actions[0].name, "team-pr-1");
  EXPECT_EQ(p.actions[0].owner_uid, "u-1");
  EXPECT_EQ(p.actions[1].type, Action::Type::kRemoveFinalizer);
}

// Ownership, not the name the spec gives now, decides what is deleted.
TEST_F(PlannerTest, DeletionDeletesEveryOwnedNamespaceWhateverTheSpecSays) {
  for (const char* name : {"team-pr-1", "old-name"})
    state_.Put(r::kNamespaces, *kube::Object::Parse(absl::StrCat(
                                   R"({"metadata":{"name":")", name,
                                   R"(","labels":{"catalyst.dev/environment-uid":"u-1",)",
                                   R"("app.kubernetes.io/managed-by":"kube-operator",)",
                                   R"("catalyst.dev/namespace-type":"environment"}}})")));
  // A spec that no longer parses.
  auto env = *kube::Object::Parse(R"({"metadata":{"name":"pr-1","namespace":"team","uid":"u-1",
      "finalizers":["catalyst.dev/finalizer"],"deletionTimestamp":"2026-01-01T00:00:00Z"},
      "spec":{"type":"nonsense"}})");
  Plan p = Run(env);
  EXPECT_THAT(Names(p),
              ::testing::UnorderedElementsAre("namespaces/team-pr-1", "namespaces/old-name"));
  EXPECT_EQ(p.phase, v1alpha1::Phase::kTerminating);
}

TEST_F(PlannerTest, ANamespaceOfSomeoneElseIsNeitherTouchedNorDeleted) {
  state_.Put(r::kNamespaces, *kube::Object::Parse(R"({"metadata":{"name":"team-pr-1"}})"));
  Plan p = Run(Env(R"(,"finalizers":["catalyst.dev/finalizer"])"));
  EXPECT_TRUE(p.actions.empty()) << ::testing::PrintToString(Names(p));
  EXPECT_EQ(p.phase, v1alpha1::Phase::kFailed);
  EXPECT_NE(p.status_patch->find("NamespaceConflict"), std::string::npos);
  p = Run(Env(
      R"(,"finalizers":["catalyst.dev/finalizer"],"deletionTimestamp":"2026-01-01T00:00:00Z")"));
  // Not owned, so not in Owned(): only a delete conditional on the owner
  // (the reconciler reads the labels first), then the release.
  ASSERT_EQ(p.actions.size(), 2u);
  EXPECT_EQ(p.actions[0].type, Action::Type::kDeleteIfOwned);
  EXPECT_EQ(p.actions[1].type, Action::Type::kRemoveFinalizer);
}

// A same-name Environment recreated while the old one's namespace is still
// terminating waits instead of failing.
TEST_F(PlannerTest, ATerminatingNamespaceIsWaitedFor) {
  state_.Put(r::kNamespaces, *kube::Object::Parse(R"({"metadata":{"name":"team-pr-1",
      "deletionTimestamp":"2026-01-01T00:00:00Z",
      "labels":{"catalyst.dev/environment-uid":"the-old-uid"}}})"));
  Plan p = Run(Env(R"(,"finalizers":["catalyst.dev/finalizer"])"));
  EXPECT_TRUE(p.actions.empty()) << ::testing::PrintToString(Names(p));
  EXPECT_EQ(p.phase, v1alpha1::Phase::kPending);
  EXPECT_NE(p.status_patch->find("NamespaceTerminating"), std::string::npos);
  EXPECT_TRUE(p.requeue_after);
}

// Declarative both ways: what the Environment owns but no longer wants goes.
TEST_F(PlannerTest, ObjectsNoLongerDesiredArePruned) {
  kube::Object env = Converge(Env(R"(,"finalizers":["catalyst.dev/finalizer"])"), 4);
  ASSERT_EQ(Run(env).phase, v1alpha1::Phase::kReady);
  const std::string owned = R"("labels":{"catalyst.dev/environment-uid":"u-1"})";
  state_.Put(r::kDeployments,
             *kube::Object::Parse(absl::StrCat(
                 R"({"metadata":{"name":"workspace","namespace":"team-pr-1",)", owned, "}}")));
  state_.Put(r::kNamespaces,
             *kube::Object::Parse(
                 R"({"metadata":{"name":"team-old-name","labels":{"catalyst.dev/environment-uid":)"
                 R"("u-1","app.kubernetes.io/managed-by":"kube-operator",)"
                 R"("catalyst.dev/namespace-type":"environment"}}})"));
  // A namespace labelled with the uid but not made by the operator (someone
  // copied the label onto theirs): never deleted.
  state_.Put(r::kNamespaces, *kube::Object::Parse(absl::StrCat(
                                 R"({"metadata":{"name":"labelled-by-hand",)", owned, "}}")));
  // An upgrade from the release that wrote one NetworkPolicy per rule.
  state_.Put(
      r::kNetworkPolicies,
      *kube::Object::Parse(absl::StrCat(
          R"({"metadata":{"name":"default-deny-all","namespace":"team-pr-1",)", owned, "}}")));
  // Someone else's in the same namespace, and ours elsewhere: left alone.
  state_.Put(r::kServices,
             *kube::Object::Parse(R"({"metadata":{"name":"theirs","namespace":"team-pr-1"}})"));
  Plan p = Run(env);
  EXPECT_THAT(Names(p),
              ::testing::UnorderedElementsAre("namespaces/team-old-name", "deployments/workspace",
                                              "networkpolicies/default-deny-all"));
  for (const Action& a : p.actions) EXPECT_EQ(a.type, Action::Type::kDelete);
  EXPECT_EQ(p.phase, v1alpha1::Phase::kReady);
}

TEST_F(PlannerTest, InvalidSpecFailsWithoutCreatingAnything) {
  auto env =
      *kube::Object::Parse(R"({"metadata":{"name":"x","namespace":"t","uid":"u","generation":1,
      "finalizers":["catalyst.dev/finalizer"]},"spec":{"type":"deployment"}})");
  Plan p = Run(env);
  EXPECT_TRUE(p.actions.empty());
  EXPECT_EQ(p.phase, v1alpha1::Phase::kFailed);
  EXPECT_NE(p.status_patch->find("image"), std::string::npos) << *p.status_patch;
  EXPECT_FALSE(p.requeue_after) << "no hot retry loop";
}

TEST_F(PlannerTest, FailingPodsMakeItFailedAndTheDeadlineToo) {
  kube::Object env = WaitingForPostgres();
  Diagnosis oom{Diagnosis::Severity::kFailing, "OOMKilled",
                "container postgres of pod x was OOMKilled"};
  Plan p = Run(env, &oom);
  EXPECT_EQ(p.phase, v1alpha1::Phase::kFailed);
  EXPECT_NE(p.status_patch->find("OOMKilled"), std::string::npos);
  EXPECT_EQ(p.event->type, "Warning");
  // Merely slow: Provisioning until the deadline, then Failed.
  Diagnosis none;
  p = Run(env, &none);
  EXPECT_EQ(p.phase, v1alpha1::Phase::kProvisioning);
  ASSERT_TRUE(p.requeue_after);
  EXPECT_LE(*p.requeue_after, config_.failure_deadline);
  now_ += config_.failure_deadline + absl::Seconds(1);
  p = Run(env, &none);
  EXPECT_EQ(p.phase, v1alpha1::Phase::kFailed);
  EXPECT_NE(p.status_patch->find("ProgressDeadlineExceeded"), std::string::npos);
}

// docs/contract.md, "Decisions where the contract is silent": without its Project the web app's
// Environment has no repository; it waits, saying what it looked for, and
// creates nothing.
TEST_F(PlannerTest, AMissingProjectIsAStatusNotASilentRetry) {
  testing_support::EnvironmentFields f;
  f.uid = "u-9";
  kube::Object env = *kube::Object::Parse(testing_support::EnvironmentJson(f));
  PutWebAppNamespaces();
  Plan p = Run(env);
  EXPECT_THAT(Names(p), ::testing::ElementsAre("finalizer"));
  EXPECT_EQ(p.phase, v1alpha1::Phase::kPending);
  ASSERT_TRUE(p.status_patch);
  EXPECT_NE(
      p.status_patch->find(
          R"("type":"ProjectResolved","status":"False","reason":"ProjectNotFound","message":"Project catalyst not found in namespace my-team or my-team-catalyst")"),
      std::string::npos)
      << *p.status_patch;
  // Once it exists, everything proceeds from its source.
  state_.Put(v1alpha1::kProjects, *kube::Object::Parse(testing_support::ProjectJson({})));
  MakeNamespace(env);
  p = Run(env);
  EXPECT_EQ(p.phase, v1alpha1::Phase::kProvisioning);
  EXPECT_NE(p.status_patch->find(R"("type":"ProjectResolved","status":"True")"), std::string::npos);
  EXPECT_THAT(Names(p), ::testing::Contains("deployments/postgres"));
}

// An Environment complete on its own (the seed's, with a repositoryUrl) does
// not wait for a Project it names but that does not exist.
TEST_F(PlannerTest, ASelfSufficientEnvironmentGoesAheadWithoutItsProject) {
  MakeNamespace(Env());
  Plan p = Run(Env());
  EXPECT_EQ(p.phase, v1alpha1::Phase::kProvisioning);
  EXPECT_NE(p.status_patch->find(R"("type":"ProjectResolved","status":"False")"),
            std::string::npos);
}

// The team's pull credentials are copied next to the pods that use them,
// never one of the operator's own copies.
TEST_F(PlannerTest, RegistryCredentialsAreCopiedFromTheProjectsNamespace) {
  testing_support::EnvironmentFields f;
  f.uid = "u-9";
  kube::Object env = *kube::Object::Parse(testing_support::EnvironmentJson(f));
  PutWebAppNamespaces();
  state_.Put(v1alpha1::kProjects, *kube::Object::Parse(testing_support::ProjectJson({})));
  state_.Put(r::kSecrets, *kube::Object::Parse(R"({"apiVersion":"v1","kind":"Secret",
      "metadata":{"name":"registry-credentials","namespace":"my-team","resourceVersion":"3"},
      "type":"kubernetes.io/dockerconfigjson","data":{".dockerconfigjson":"e30="}})"));
  MakeNamespace(env);
  Plan p = Run(env);
  EXPECT_THAT(Names(p), ::testing::Contains("secrets/registry-credentials"));
  for (const Action& a : p.actions) {
    if (a.resource.plural == "secrets") {
      EXPECT_EQ(a.ns, "my-team-catalyst-dev-happy-otter-42");
    }
  }
}

// Between two back-offs a crashing container runs, unready: still failing
// (judged by its restarts and last termination), so the phase does not flap.
TEST(DiagnosisTest, ACrashLoopStaysFailingWhileTheContainerRunsBetweenBackOffs) {
  auto pod = [](absl::string_view cs) {
    return *kube::Object::Parse(
        absl::StrCat(R"({"metadata":{"name":"web-1"},"status":{"containerStatuses":[)", cs, "]}}"));
  };
  const std::string crashed =
      R"("lastState":{"terminated":{"reason":"Error","exitCode":1,
         "message":"npm ERR! missing script: start\n"}})";
  auto waiting = Diagnose({pod(absl::StrCat(R"({"name":"web","restartCount":2,"ready":false,
      "state":{"waiting":{"reason":"CrashLoopBackOff"}},)",
                                            crashed, "}"))});
  auto running = Diagnose({pod(absl::StrCat(R"({"name":"web","restartCount":3,"ready":false,
      "state":{"running":{"startedAt":"2026-01-01T00:00:00Z"}},)",
                                            crashed, "}"))});
  for (const Diagnosis& d : {waiting, running}) {
    EXPECT_EQ(d.severity, Diagnosis::Severity::kFailing);
    EXPECT_EQ(d.reason, "CrashLoopBackOff");
    EXPECT_NE(d.message.find("exit 1"), std::string::npos) << d.message;
    // The termination message (the log tail) names the cause.
    EXPECT_NE(d.message.find("npm ERR! missing script: start"), std::string::npos) << d.message;
  }
  // Ready again: recovered.
  auto ready = Diagnose({pod(absl::StrCat(R"({"name":"web","restartCount":3,"ready":true,
      "state":{"running":{"startedAt":"2026-01-01T00:00:00Z"}},)",
                                          crashed, "}"))});
  EXPECT_EQ(ready.severity, Diagnosis::Severity::kNone);
}

// Exit 137 is a SIGKILL; only the kubelet's reason makes it an OOM kill.
TEST(DiagnosisTest, Exit137IsOomKilledOnlyWhenTheReasonSaysSo) {
  auto with = [](absl::string_view reason) {
    return Diagnose({*kube::Object::Parse(absl::StrCat(
        R"({"metadata":{"name":"p"},"status":{"containerStatuses":[{"name":"web","restartCount":1,
            "ready":false,"lastState":{"terminated":{"exitCode":137,"reason":")",
        reason, R"("}}}]}})"))});
  };
  EXPECT_EQ(with("OOMKilled").reason, "OOMKilled");
  EXPECT_EQ(with("Error").reason, "CrashLoopBackOff");
  EXPECT_EQ(with("Error").message.find("OOM"), std::string::npos);
}

TEST(DiagnosisTest, UnschedulablePodsAndQuotaRefusalsAreFailingAtOnce) {
  auto unschedulable = Diagnose({*kube::Object::Parse(
      R"({"metadata":{"name":"web-1"},"status":{"phase":"Pending","conditions":[
          {"type":"PodScheduled","status":"False","reason":"Unschedulable",
           "message":"0/1 nodes are available: 1 Insufficient cpu."}]}})")});
  EXPECT_EQ(unschedulable.severity, Diagnosis::Severity::kFailing);
  EXPECT_EQ(unschedulable.reason, "Unschedulable");
  EXPECT_NE(unschedulable.message.find("Insufficient cpu"), std::string::npos);
  auto refused = Diagnose(
      {}, {*kube::Object::Parse(
              R"({"metadata":{"name":"web-5d9"},"status":{"conditions":[{"type":"ReplicaFailure",
          "status":"True","reason":"FailedCreate","message":"pods \"web-5d9-x\" is forbidden: exceeded quota: q"}]}})")});
  EXPECT_EQ(refused.severity, Diagnosis::Severity::kFailing);
  EXPECT_EQ(refused.reason, "FailedCreate");
  EXPECT_NE(refused.message.find("exceeded quota"), std::string::npos);
}

// A Failed Environment whose spec changes starts a new attempt: the deadline
// runs again from the change, not from the old failure.
TEST_F(PlannerTest, ASpecChangeRestartsTheFailureDeadline) {
  kube::Object env = WaitingForPostgres();
  now_ += config_.failure_deadline + absl::Seconds(1);
  Diagnosis none;
  Plan p = Run(env, &none);
  ASSERT_EQ(p.phase, v1alpha1::Phase::kFailed);
  env = WithStatus(env, p);
  // A new commit: generation 2.
  std::string json = env.Serialize();
  json.replace(json.find(R"("generation":1)"), 14, R"("generation":2)");
  p = Run(*kube::Object::Parse(json), &none);
  EXPECT_EQ(p.phase, v1alpha1::Phase::kProvisioning) << *p.status_patch;
  ASSERT_TRUE(p.requeue_after);
  EXPECT_EQ(*p.requeue_after, config_.failure_deadline);
  EXPECT_NE(p.status_patch->find(absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", now_, absl::UTCTimeZone())),
            std::string::npos)
      << "Ready's transition time restarts with the new generation: " << *p.status_patch;
}

TEST(DiagnosisTest, NamesContainerAndCause) {
  auto pod = [](absl::string_view status) {
    return *kube::Object::Parse(
        absl::StrCat(R"({"metadata":{"name":"web-1"},"status":)", status, "}"));
  };
  auto oom = Diagnose({pod(R"({"containerStatuses":[{"name":"web","restartCount":3,
      "state":{"waiting":{"reason":"CrashLoopBackOff"}},"lastState":{"terminated":{"reason":"OOMKilled","exitCode":137}}}]})")});
  EXPECT_EQ(oom.severity, Diagnosis::Severity::kFailing);
  EXPECT_EQ(oom.reason, "OOMKilled");
  EXPECT_NE(oom.message.find("container web"), std::string::npos);
  auto pull = Diagnose({pod(
      R"({"containerStatuses":[{"name":"web","state":{"waiting":{"reason":"ImagePullBackOff","message":"Back-off pulling image \"x\""}}}]})")});
  EXPECT_EQ(pull.reason, "ImagePullBackOff");
  auto hang = Diagnose(
      {pod(R"({"initContainerStatuses":[{"name":"git-clone","state":{"terminated":{"exitCode":0}}},
      {"name":"db-migrate","state":{"running":{"startedAt":"2026-01-01T00:00:00Z"}}}]})")});
  EXPECT_EQ(hang.severity, Diagnosis::Severity::kWaiting);
  EXPECT_NE(hang.message.find("db-migrate"), std::string::npos);
  auto initfail = Diagnose({pod(R"({"initContainerStatuses":[{"name":"npm-install","restartCount":2,
      "state":{"waiting":{"reason":"CrashLoopBackOff"}},"lastState":{"terminated":{"reason":"Error","exitCode":1}}}]})")});
  EXPECT_EQ(initfail.reason, "InitContainerFailing");
  EXPECT_NE(initfail.message.find("npm-install"), std::string::npos);
  EXPECT_EQ(Diagnose({}).severity, Diagnosis::Severity::kNone);
}

using SecretData = std::vector<std::pair<std::string, std::string>>;
SecretData Data(const std::string& k, const std::string& v) { return SecretData{{k, v}}; }

// docs/contract.md, "The team's secrets".
class TeamSecretsTest : public PlannerTest {
 protected:
  static constexpr char kId[] =
      R"(,"finalizers":["catalyst.dev/finalizer"],"annotations":{"catalyst.dev/environment-id":"env-1"})";
  const kube::Object* Find(const Plan& p, absl::string_view plural, absl::string_view name) {
    for (const auto& a : p.actions)
      if (a.resource.plural == plural && a.name == name) return &a.body;
    return nullptr;
  }
  kube::Object ReadyWith(const std::vector<std::pair<std::string, std::string>>& data) {
    state_.secrets_["team/pr-1"] = TeamSecrets{.environment_id = "env-1",
                                               .synced = true,
                                               .reason = "Synced",
                                               .message = "1 secrets from the web app",
                                               .data = data};
    return Converge(Env(kId), 5);
  }
};

TEST_F(TeamSecretsTest, TheSecretIsAppliedAndTheWebPodReadsItAndRollsOnAChange) {
  kube::Object env = ReadyWith(Data("API_KEY", "djE="));
  EXPECT_EQ(ReadStatus(env).phase, v1alpha1::Phase::kReady);
  auto secret = state_.Get(r::kSecrets, "team-pr-1", "catalyst-secrets");
  ASSERT_TRUE(secret);
  EXPECT_EQ(secret->Str({"data", "API_KEY"}), "djE=");
  auto web = state_.Get(r::kDeployments, "team-pr-1", "web");
  ASSERT_TRUE(web);
  const std::string hash(
      web->Str({"spec", "template", "metadata", "annotations", "catalyst.dev/secrets-hash"}));
  EXPECT_FALSE(hash.empty());
  EXPECT_THAT(web->Serialize(),
              testing::HasSubstr(
                  R"("envFrom":[{"secretRef":{"name":"catalyst-secrets","optional":true}}])"));
  const Status status = ReadStatus(env);
  const Condition* synced = status.Find(kSecretsSynced);
  ASSERT_TRUE(synced);
  EXPECT_EQ(synced->status, "True");
  // The answer changes (a key removed, one changed): the Secret follows, the pods roll.
  state_.secrets_["team/pr-1"].data = Data("OTHER", "djI=");
  Plan p = Run(env);
  const kube::Object* s = Find(p, "secrets", "catalyst-secrets");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->Str({"data", "OTHER"}), "djI=");
  EXPECT_EQ(s->Find({"data", "API_KEY"}), nullptr);
  const kube::Object* d = Find(p, "deployments", "web");
  ASSERT_TRUE(d);
  EXPECT_NE(d->Str({"spec", "template", "metadata", "annotations", "catalyst.dev/secrets-hash"}),
            hash);
}

TEST_F(TeamSecretsTest, AFailedFetchKeepsTheSecretAndReadyButSaysSo) {
  kube::Object env = ReadyWith(Data("API_KEY", "djE="));
  auto& t = state_.secrets_["team/pr-1"];
  t.synced = false;
  t.reason = "WebAppUnreachable";
  t.message = "GET http://web/api/internal/secrets/env-1: connection refused";
  Plan p = Run(env);
  EXPECT_EQ(Find(p, "secrets", "catalyst-secrets"), nullptr);
  EXPECT_EQ(Find(p, "deployments", "web"), nullptr);
  EXPECT_EQ(p.phase, v1alpha1::Phase::kReady);
  EXPECT_FALSE(p.event) << "no phase change";
  env = WithStatus(env, p);
  const Status status = ReadStatus(env);
  const Condition* synced = status.Find(kSecretsSynced);
  ASSERT_TRUE(synced);
  EXPECT_EQ(synced->status, "False");
  EXPECT_EQ(synced->reason, "WebAppUnreachable");
  EXPECT_EQ(ReadStatus(env).Find(kReady)->status, "True");
}

TEST_F(TeamSecretsTest, AfterARestartTheCachedSecretIsKeptUntilTheWebAppAnswers) {
  kube::Object env = ReadyWith(Data("API_KEY", "djE="));
  state_.secrets_.clear();  // the operator restarted: nothing heard yet
  Plan p = Run(env);
  EXPECT_TRUE(p.actions.empty()) << absl::StrJoin(Names(p), ", ");
  EXPECT_FALSE(p.status_patch);
}

TEST_F(TeamSecretsTest, WithoutTheAnnotationTheSecretIsPrunedAndNotRead) {
  kube::Object env = ReadyWith(Data("API_KEY", "djE="));
  std::string json = env.Serialize();
  json.replace(json.find(R"("catalyst.dev/environment-id":"env-1")"),
               strlen(R"("catalyst.dev/environment-id":"env-1")"), R"("other":"x")");
  Plan p = Run(*kube::Object::Parse(json));
  bool deleted = false;
  for (const auto& a : p.actions)
    deleted |= a.type == Action::Type::kDelete && a.name == "catalyst-secrets";
  EXPECT_TRUE(deleted);
  const kube::Object* d = Find(p, "deployments", "web");
  ASSERT_TRUE(d);
  EXPECT_THAT(d->Serialize(), testing::Not(testing::HasSubstr("envFrom")));
}

// docs/contract.md "Tenant isolation": an Environment labelled with another
// team's name, in a namespace that is not that team's, does not get that
// team's Project (its repository, config, quota, pull credentials).
TEST_F(PlannerTest, AProjectOfAnotherTeamIsNotUsed) {
  PutWebAppNamespaces(/*team=*/"mallory", /*project_ns=*/"my-team-catalyst");
  state_.Put(v1alpha1::kProjects, *kube::Object::Parse(testing_support::ProjectJson({})));
  testing_support::EnvironmentFields f;
  f.uid = "u-9";
  kube::Object env = *kube::Object::Parse(testing_support::EnvironmentJson(f));
  Plan p = Run(env);
  EXPECT_THAT(Names(p), ::testing::ElementsAre("finalizer"));
  EXPECT_EQ(p.phase, v1alpha1::Phase::kPending);
  ASSERT_TRUE(p.status_patch);
  EXPECT_NE(p.status_patch->find(
                R"("type":"ProjectResolved","status":"False","reason":"ProjectNotInTeam")"),
            std::string::npos)
      << *p.status_patch;
  // Unlabelled namespaces prove nothing either.
  state_ = FakeState();
  state_.Put(v1alpha1::kProjects, *kube::Object::Parse(testing_support::ProjectJson({})));
  p = Run(env);
  EXPECT_NE(p.status_patch->find(R"("reason":"ProjectNotInTeam")"), std::string::npos);
  // The web app's own labels: found.
  PutWebAppNamespaces();
  MakeNamespace(env);
  p = Run(env);
  EXPECT_NE(p.status_patch->find(R"("type":"ProjectResolved","status":"True")"), std::string::npos);
}

// Without a Project, the namespace's hierarchy labels (what the web app's
// git-token check trusts) are the Environment's namespace's, not the labels
// its author wrote on the Environment.
TEST_F(PlannerTest, WithoutAProjectTheHierarchyLabelsComeFromTheEnvironmentsNamespace) {
  state_.Put(r::kNamespaces,
             *kube::Object::Parse(R"({"metadata":{"name":"team","labels":{)"
                                  R"("catalyst.dev/team":"acme","catalyst.dev/project":"shop",)"
                                  R"("catalyst.dev/namespace-type":"project"}}})"));
  Plan p = Run(Env());
  const kube::Object* ns = nullptr;
  for (const Action& a : p.actions)
    if (a.resource.plural == "namespaces") ns = &a.body;
  ASSERT_NE(ns, nullptr) << ::testing::PrintToString(Names(p));
  EXPECT_EQ(ns->Label("catalyst.dev/team"), "acme");
  EXPECT_EQ(ns->Label("catalyst.dev/project"), "shop");
  EXPECT_EQ(p.actions.back().type, Action::Type::kCreate);  // POST: never takes over
}

}  // namespace
}  // namespace controllers
