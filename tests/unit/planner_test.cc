#include "controllers/environment/planner.h"

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/v1alpha1/resources.h"
#include "controllers/environment/naming.h"
#include "controllers/environment/rendered.h"
#include "controllers/environment/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/json_builder.h"
#include "support/catalyst.h"
#include "support/environment_fixture.h"
#include "support/fake_cluster_state.h"

namespace controllers {
namespace {

namespace r = kube::resources;

using kube::J;
using testing_support::AsStored;
using testing_support::EnvironmentBuilder;
using testing_support::FakeClusterState;
using testing_support::With;

// The Environment with the operator's finalizer (past its first pass).
kube::Object Finalized() { return EnvironmentBuilder().Finalizer().Build(); }

// The Environment as the server would hold it after the status patch.
kube::Object WithStatus(const kube::Object& env, const Plan& plan) {
  if (!plan.status_patch) return env;
  return EnvironmentBuilder(env).StatusOfPatch(*plan.status_patch).Build();
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
  // d: what the pods say when the planner asks (null: it asks nobody).
  Plan Run(const kube::Object& env, const Diagnosis* d = nullptr) {
    asked_.clear();
    DiagnoseFn diagnose = [&](absl::string_view ns, absl::string_view selector) {
      asked_.push_back(absl::StrCat(ns, " ", selector));
      return d ? std::optional<Diagnosis>(*d) : std::nullopt;
    };
    return PlanEnvironment({env, state_, config_, now_, diagnose});
  }
  // Plans and commits (Deployments ready) `passes` times: the Environment as
  // the server then holds it.
  kube::Object Converge(kube::Object env, int passes) {
    for (int i = 0; i < passes; ++i) {
      Plan p = Run(env);
      Commit(p, true);
      env = WithStatus(env, p);
    }
    return env;
  }
  // Stores what the plan applies; a stored Deployment reports one ready
  // replica when deployments_ready says so.
  void Commit(const Plan& plan, bool deployments_ready) {
    state_.Commit(plan, [&](const Action& a) { return AsStored(a, 0, 0, deployments_ready); });
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
  void MakeNamespace(const kube::Object& env) { Commit(Run(env), false); }
  // An Environment with the finalizer after its first two passes (namespace,
  // then everything up to postgres), postgres not ready yet.
  kube::Object WaitingForPostgres() {
    kube::Object env = Finalized();
    MakeNamespace(env);
    Plan p = Run(env);
    Commit(p, /*deployments_ready=*/false);
    return WithStatus(env, p);
  }
  FakeClusterState state_;
  OperatorConfig config_;
  absl::Time now_ = absl::FromUnixSeconds(1'800'000'000);
  std::vector<std::string> asked_;  // the pod diagnoses the last Run asked for
};

// A new Environment's first pass makes its namespace only (what the web app
// shows first; in a burst every namespace comes before deeper steps), and no
// status: the pass costs what a pass doing it all would.
TEST_F(PlannerTest, FirstPassMakesTheNamespaceOnly) {
  Plan p = Run(EnvironmentBuilder().Build());
  EXPECT_THAT(Names(p), ::testing::ElementsAre("finalizer", "namespaces/team-pr-1"));
  EXPECT_EQ(p.phase, v1alpha1::Phase::kProvisioning);
  EXPECT_EQ(p.target_namespace, "team-pr-1");
  EXPECT_FALSE(p.status_patch);
  EXPECT_FALSE(p.event);
  EXPECT_FALSE(p.requeue_after) << "the namespace's ADD event brings it back";
}

TEST_F(PlannerTest, SecondPassSetsUpEverythingUpToPostgresButNotWeb) {
  kube::Object env = EnvironmentBuilder().Build();
  Commit(Run(env), false);
  Plan p = Run(env);
  EXPECT_THAT(Names(p), ::testing::ElementsAre(
                            "finalizer", "resourcequotas/environment-quota",
                            "networkpolicies/environment-isolation", "networkpolicies/allow-web",
                            "secrets/postgres-credentials", "persistentvolumeclaims/postgres-data",
                            "deployments/postgres", "services/postgres"));
  EXPECT_EQ(p.phase, v1alpha1::Phase::kProvisioning);
  ASSERT_TRUE(p.status_patch);
  EXPECT_TRUE(p.event);
  EXPECT_THAT(asked_, ::testing::IsEmpty()) << "no pod listing while still applying";
}

TEST_F(PlannerTest, WebComesOnlyAfterPostgresIsReadyThenReady) {
  kube::Object env = WaitingForPostgres();
  Plan p = Run(env);
  EXPECT_TRUE(p.actions.empty());
  EXPECT_EQ(p.phase, v1alpha1::Phase::kProvisioning);
  EXPECT_THAT(asked_, ::testing::ElementsAre("team-pr-1 app.kubernetes.io/name=postgres"));
  // Postgres ready: the web objects come.
  state_.Put(r::kDeployments,
             With(*state_.Get(r::kDeployments, "team-pr-1", "postgres"), {"status"},
                  J::Obj({{"readyReplicas", 1}, {"updatedReplicas", 1}})));
  p = Run(env);
  EXPECT_THAT(Names(p), ::testing::ElementsAre("persistentvolumeclaims/workspace",
                                               "deployments/web", "services/web", "ingresses/web"));
  EXPECT_EQ(p.phase, v1alpha1::Phase::kDeploying);
  Commit(p, /*deployments_ready=*/true);
  env = WithStatus(env, p);
  p = Run(env);
  EXPECT_TRUE(p.actions.empty());
  EXPECT_EQ(p.phase, v1alpha1::Phase::kReady);
  ASSERT_TRUE(p.status_patch);
  EXPECT_NE(p.status_patch->find("http://team-pr-1.preview.local"), std::string::npos);
}

TEST_F(PlannerTest, AnUpToDateEnvironmentYieldsNothing) {
  kube::Object env = Converge(Finalized(), 5);
  now_ += absl::Minutes(30);  // time alone changes nothing
  Plan p = Run(env);
  EXPECT_TRUE(p.actions.empty()) << ::testing::PrintToString(Names(p));
  EXPECT_FALSE(p.status_patch) << *p.status_patch;
  EXPECT_FALSE(p.event);
  EXPECT_EQ(p.phase, v1alpha1::Phase::kReady);
  EXPECT_THAT(asked_, ::testing::IsEmpty()) << "a ready environment needs no pod listing";
}

TEST_F(PlannerTest, DeletionDeletesTheOwnedNamespaceThenReleases) {
  kube::Object env = Finalized();
  Commit(Run(env), true);
  kube::Object deleting = EnvironmentBuilder().Finalizer().Deleting().Build();
  Plan p = Run(deleting);
  EXPECT_THAT(Names(p), ::testing::ElementsAre("namespaces/team-pr-1"));
  EXPECT_EQ(p.actions[0].type, Action::Type::kDelete);
  EXPECT_EQ(p.phase, v1alpha1::Phase::kTerminating);
  Commit(p, true);  // the namespace is gone
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
  auto env =
      EnvironmentBuilder().Finalizer().Deleting().Spec(J::Obj({{"type", "nonsense"}})).Build();
  Plan p = Run(env);
  EXPECT_THAT(Names(p),
              ::testing::UnorderedElementsAre("namespaces/team-pr-1", "namespaces/old-name"));
  EXPECT_EQ(p.phase, v1alpha1::Phase::kTerminating);
}

TEST_F(PlannerTest, ANamespaceOfSomeoneElseIsNeitherTouchedNorDeleted) {
  state_.Put(r::kNamespaces, *kube::Object::Parse(R"({"metadata":{"name":"team-pr-1"}})"));
  Plan p = Run(Finalized());
  EXPECT_TRUE(p.actions.empty()) << ::testing::PrintToString(Names(p));
  EXPECT_EQ(p.phase, v1alpha1::Phase::kFailed);
  EXPECT_NE(p.status_patch->find("NamespaceConflict"), std::string::npos);
  p = Run(EnvironmentBuilder().Finalizer().Deleting().Build());
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
  Plan p = Run(Finalized());
  EXPECT_TRUE(p.actions.empty()) << ::testing::PrintToString(Names(p));
  EXPECT_EQ(p.phase, v1alpha1::Phase::kPending);
  EXPECT_NE(p.status_patch->find("NamespaceTerminating"), std::string::npos);
  EXPECT_TRUE(p.requeue_after);
}

// Declarative both ways: what the Environment owns but no longer wants goes.
TEST_F(PlannerTest, ObjectsNoLongerDesiredArePruned) {
  kube::Object env = Converge(Finalized(), 4);
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
  auto env = EnvironmentBuilder()
                 .Name("x")
                 .Namespace("t")
                 .Uid("u")
                 .Finalizer()
                 .Spec(J::Obj({{"type", "deployment"}}))
                 .Build();
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
  MakeNamespace(EnvironmentBuilder().Build());
  Plan p = Run(EnvironmentBuilder().Build());
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
  p = Run(EnvironmentBuilder(env).Generation(2).Build(), &none);
  EXPECT_EQ(p.phase, v1alpha1::Phase::kProvisioning) << *p.status_patch;
  ASSERT_TRUE(p.requeue_after);
  EXPECT_EQ(*p.requeue_after, config_.failure_deadline);
  EXPECT_NE(p.status_patch->find(absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", now_, absl::UTCTimeZone())),
            std::string::npos)
      << "Ready's transition time restarts with the new generation: " << *p.status_patch;
}

using SecretData = std::vector<std::pair<std::string, std::string>>;
SecretData Data(const std::string& k, const std::string& v) { return SecretData{{k, v}}; }

// docs/contract.md, "The team's secrets".
class TeamSecretsTest : public PlannerTest {
 protected:
  const kube::Object* Find(const Plan& p, absl::string_view plural, absl::string_view name) {
    for (const auto& a : p.actions)
      if (a.resource.plural == plural && a.name == name) return &a.body;
    return nullptr;
  }
  kube::Object ReadyWith(const std::vector<std::pair<std::string, std::string>>& data) {
    state_.SetSecrets(kKey, TeamSecrets{.environment_id = "env-1",
                                        .synced = true,
                                        .reason = "Synced",
                                        .message = "1 secrets from the web app",
                                        .data = data});
    return Converge(
        EnvironmentBuilder().Finalizer().Annotation(kEnvironmentIdAnnotation, "env-1").Build(), 5);
  }
  // The web app's next answer: the last one, changed by `change`.
  void Answers(const std::function<void(TeamSecrets&)>& change) {
    TeamSecrets t = *state_.Secrets(kKey);
    change(t);
    state_.SetSecrets(kKey, std::move(t));
  }
  static constexpr char kKey[] = "team/pr-1";
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
  Answers([](TeamSecrets& t) { t.data = Data("OTHER", "djI="); });
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
  Answers([](TeamSecrets& t) {
    t.synced = false;
    t.reason = "WebAppUnreachable";
    t.message = "GET http://web/api/internal/secrets/env-1: connection refused";
  });
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
  state_.ForgetSecrets();  // the operator restarted: nothing heard yet
  Plan p = Run(env);
  EXPECT_TRUE(p.actions.empty()) << absl::StrJoin(Names(p), ", ");
  EXPECT_FALSE(p.status_patch);
}

TEST_F(TeamSecretsTest, WithoutTheAnnotationTheSecretIsPrunedAndNotRead) {
  kube::Object env = ReadyWith(Data("API_KEY", "djE="));
  Plan p = Run(EnvironmentBuilder(env)
                   .RemoveAnnotation(kEnvironmentIdAnnotation)
                   .Annotation("other", "x")
                   .Build());
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
  state_ = FakeClusterState();
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
  Plan p = Run(EnvironmentBuilder().Build());
  const kube::Object* ns = nullptr;
  for (const Action& a : p.actions)
    if (a.resource.plural == "namespaces") ns = &a.body;
  ASSERT_NE(ns, nullptr) << ::testing::PrintToString(Names(p));
  EXPECT_EQ(ns->Label("catalyst.dev/team"), "acme");
  EXPECT_EQ(ns->Label("catalyst.dev/project"), "shop");
  EXPECT_EQ(p.actions.back().type, Action::Type::kCreate);  // POST: never takes over
}

// The postgres password is made once: random for a new Environment, the one
// its postgres Deployment still names for one set up before passwords lived
// in a Secret (its data was initialised with it), nothing once the Secret exists.
TEST(DbCredentialsTest, MadeOnceAndMigrated) {
  auto secret_of = [](const Plan& p) -> std::string {
    for (const Action& a : p.actions)
      if (a.resource.plural == "secrets" && a.name == "postgres-credentials") {
        EXPECT_EQ(a.type, Action::Type::kCreate);
        return std::string(a.body.Str({"data", "password"}));
      }
    return "<none>";
  };
  FakeClusterState state;
  const auto env = EnvironmentBuilder().Finalizer().ResourceVersion(1).Build();
  const OperatorConfig cfg;
  const absl::Time now = absl::Now();
  state.Commit(PlanEnvironment({env, state, cfg, now}));  // the namespace
  Plan p = PlanEnvironment(
      {.env = env, .state = state, .config = cfg, .now = now, .fresh_password = "fresh0"});
  EXPECT_EQ(secret_of(p), "ZnJlc2gw");  // base64("fresh0")
  // The old operator's postgres Deployment, with the password in clear.
  state.Put(r::kDeployments, *kube::Object::Parse(R"({"metadata":{"name":"postgres",
      "namespace":"team-pr-1","resourceVersion":"4"},"spec":{"template":{"spec":{"containers":[
      {"name":"postgres","env":[{"name":"POSTGRES_PASSWORD","value":"legacy"}]}]}}}})"));
  p = PlanEnvironment(
      {.env = env, .state = state, .config = cfg, .now = now, .fresh_password = "fresh1"});
  EXPECT_EQ(secret_of(p), "bGVnYWN5");  // base64("legacy")
  state.Put(r::kSecrets, *kube::Object::Parse(R"({"metadata":{"name":"postgres-credentials",
      "namespace":"team-pr-1","resourceVersion":"5","labels":{
      "catalyst.dev/environment-uid":"u-1"}},"data":{"password":"bGVnYWN5"}})"));
  p = PlanEnvironment(
      {.env = env, .state = state, .config = cfg, .now = now, .fresh_password = "fresh2"});
  EXPECT_EQ(secret_of(p), "<none>");
  for (const Action& a : p.actions)
    EXPECT_FALSE(a.type == Action::Type::kDelete && a.name == "postgres-credentials");
}

// docs/contract.md, "Project" (helm mode): a template of type helm makes the
// chart the workload. The planner asks for its render, applies what the
// render made (owned like the operator's own objects), waits for its
// workloads, and prunes what a later render no longer has.
class HelmModeTest : public PlannerTest {
 protected:
  static constexpr char kKey[] = "my-team-catalyst/pr-7";
  static constexpr char kNs[] = "my-team-catalyst-pr-7";
  void SetUp() override {
    PutWebAppNamespaces();
    state_.Put(v1alpha1::kProjects, *kube::Object::Parse(ProjectJson(R"({"replicas":1})")));
  }
  static std::string ProjectJson(absl::string_view values) {
    return absl::StrCat(
        R"({"apiVersion":"catalyst.catalyst.dev/v1alpha1","kind":"Project","metadata":{)",
        R"("name":"catalyst","namespace":"my-team","uid":"p-1","resourceVersion":"1",)",
        R"("labels":{"catalyst.dev/team":"my-team","catalyst.dev/project":"catalyst"}},)",
        R"("spec":{"githubInstallationId":"4242","sources":[{"name":"primary",)",
        R"("repositoryUrl":"https://github.com/acme/shop","branch":"main"}],)",
        R"("templates":{"deployment":{"sourceRef":"primary","type":"helm","path":"/deploy/chart",)",
        R"("values":)", values, "}}}}");
  }
  // config: the Environment's own spec.config (helm mode does not use it).
  kube::Object Env(absl::string_view commit = "0123456789abcdef0123456789abcdef01234567",
                   std::string config = "") {
    testing_support::EnvironmentFields f;
    f.name = "pr-7";
    f.type = "deployment";
    f.config = std::move(config);
    f.commit_sha = std::string(commit);
    f.uid = "u-7";
    return EnvironmentBuilder(*kube::Object::Parse(testing_support::EnvironmentJson(f)))
        .Finalizer()
        .Build();
  }
  // The outcome of request, rendered from yaml.
  static RenderOutcome Rendered(const RenderRequest& request, absl::string_view yaml) {
    RenderOutcome out;
    out.digest = request.Digest();
    out.commit = request.commit;
    auto objects = ConfineRendered(yaml, request.ns);
    EXPECT_TRUE(objects.ok()) << objects.status();
    if (objects.ok()) out.objects = std::move(*objects);
    return out;
  }
  static constexpr char kChart[] = R"(---
# Source: shop/templates/app.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  labels: {tier: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop}}
    spec:
      containers: [{name: app, image: "ghcr.io/acme/shop:1"}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: app-config}
data: {MODE: preview}
)";
};

TEST_F(HelmModeTest, TheChartIsRenderedAppliedAndWaitedFor) {
  kube::Object env = Env();
  MakeNamespace(env);
  Plan p = Run(env);
  ASSERT_TRUE(p.render) << "the chart is asked for";
  EXPECT_EQ(p.render->env_key, kKey);
  EXPECT_EQ(p.render->ns, kNs);
  EXPECT_EQ(p.render->release, "pr-7");
  EXPECT_EQ(p.render->url, "https://github.com/acme/shop");
  EXPECT_EQ(p.render->commit, "0123456789abcdef0123456789abcdef01234567");
  EXPECT_EQ(p.render->chart_path, "deploy/chart");
  EXPECT_EQ(p.render->values_json, R"({"replicas":1})");
  EXPECT_EQ(p.render->installation_id, "4242");
  EXPECT_THAT(Names(p), ::testing::Not(::testing::Contains("deployments/web")));
  EXPECT_THAT(Names(p), ::testing::Not(::testing::Contains("deployments/postgres")));
  // No web workload of the operator's: no allow-web to hand its egress to a
  // chart's pods; the isolation stays.
  EXPECT_THAT(Names(p), ::testing::Contains("networkpolicies/environment-isolation"));
  EXPECT_THAT(Names(p), ::testing::Not(::testing::Contains("networkpolicies/allow-web")));
  EXPECT_EQ(p.phase, v1alpha1::Phase::kDeploying);
  ASSERT_TRUE(p.status_patch);
  EXPECT_THAT(*p.status_patch,
              ::testing::HasSubstr(R"("type":"Rendered","status":"False","reason":"Rendering")"));
  Commit(p, false);
  env = WithStatus(env, p);

  state_.SetRendered(kKey, Rendered(*p.render, kChart));
  p = Run(env);
  EXPECT_FALSE(p.render);
  EXPECT_THAT(Names(p), ::testing::IsSupersetOf({"deployments/app", "configmaps/app-config"}));
  for (const Action& a : p.actions)
    if (a.name == "app" || a.name == "app-config") {
      EXPECT_EQ(a.ns, kNs);
      EXPECT_EQ(a.body.Label(kEnvironmentUidLabel), "u-7");
      EXPECT_EQ(a.body.Label(kManagedByLabel), kManagedByValue);
      EXPECT_EQ(a.body.Annotation(kEnvironmentAnnotation), "my-team-catalyst/pr-7");
      if (a.name == "app") {
        EXPECT_EQ(a.body.Label("tier"), "web") << "the chart's own labels stay";
      }
    }
  EXPECT_EQ(p.phase, v1alpha1::Phase::kDeploying);
  EXPECT_THAT(*p.status_patch, ::testing::HasSubstr("waiting for Deployment/app"));
  Commit(p, /*deployments_ready=*/false);
  env = WithStatus(env, p);
  p = Run(env);
  EXPECT_THAT(Names(p), ::testing::IsEmpty()) << "applied once: the digest matches";
  EXPECT_EQ(p.phase, v1alpha1::Phase::kDeploying);

  state_.Put(r::kDeployments, AsStored({Action::Type::kApply, r::kDeployments, kNs, "app",
                                        *state_.Get(r::kDeployments, kNs, "app")},
                                       0, 0, /*ready=*/true));
  p = Run(env);
  EXPECT_EQ(p.phase, v1alpha1::Phase::kReady);
  EXPECT_THAT(*p.status_patch,
              ::testing::HasSubstr("commit 0123456789abcdef0123456789abcdef01234567: "
                                   "Deployment/app, ConfigMap/app-config"));
}

TEST_F(HelmModeTest, WhatANewRenderNoLongerHasIsPrunedOnlyOnceItIsIn) {
  kube::Object env = Env();
  MakeNamespace(env);
  Plan p = Run(env);
  state_.SetRendered(kKey, Rendered(*p.render, kChart));
  Commit(Run(env), true);
  // A new commit: until its render is in, nothing of the old one goes.
  env = Env("89abcdef0123456789abcdef0123456789abcdef");
  p = Run(env);
  ASSERT_TRUE(p.render);
  EXPECT_EQ(p.render->commit, "89abcdef0123456789abcdef0123456789abcdef");
  for (const Action& a : p.actions) EXPECT_NE(a.type, Action::Type::kDelete) << a.name;
  const std::string without_config(absl::string_view(kChart).substr(
      0, absl::string_view(kChart).find("---\napiVersion: v1\nkind: ConfigMap")));
  state_.SetRendered(kKey, Rendered(*p.render, without_config));
  p = Run(env);
  EXPECT_THAT(Names(p), ::testing::Contains("configmaps/app-config"));
  for (const Action& a : p.actions)
    if (a.name == "app-config") {
      EXPECT_EQ(a.type, Action::Type::kDelete);
    }
}

TEST_F(HelmModeTest, AFailedRenderFailsTheEnvironmentAndIsAskedForAgain) {
  kube::Object env = Env();
  MakeNamespace(env);
  Plan p = Run(env);
  RenderOutcome failed;
  failed.digest = p.render->Digest();
  failed.status = absl::InvalidArgumentError(
      "document 1 (shop/templates/rbac.yaml): ClusterRole/admin: not allowed: cluster-scoped");
  state_.SetRendered(kKey, std::move(failed));
  p = Run(env);
  EXPECT_EQ(p.phase, v1alpha1::Phase::kFailed);
  EXPECT_TRUE(p.render) << "the renderer decides whether it retries";
  EXPECT_THAT(*p.status_patch, ::testing::HasSubstr("ClusterRole/admin: not allowed"));
  EXPECT_THAT(*p.status_patch, ::testing::HasSubstr(R"("reason":"RenderFailed")"));
  for (const Action& a : p.actions) EXPECT_NE(a.resource.plural, "clusterroles");
}

// A new namespace's `default` ServiceAccount (whose token asks the web app for
// the git token) comes a moment after the namespace: that failure passes, and
// the Environment waits for it as for a workload, Failed only past the
// failure deadline.
TEST_F(HelmModeTest, ARenderFailureThatMayPassKeepsItDeployingUntilTheFailureDeadline) {
  kube::Object env = Env();
  MakeNamespace(env);
  Plan p = Run(env);
  Commit(p, false);
  env = WithStatus(env, p);
  RenderOutcome unavailable;
  unavailable.digest = p.render->Digest();
  unavailable.status = absl::UnavailableError(
      "git token for installation 4242: no token of ServiceAccount my-team-catalyst-pr-7/default: "
      "NotFound");
  state_.SetRendered(kKey, std::move(unavailable));
  p = Run(env);
  EXPECT_EQ(p.phase, v1alpha1::Phase::kDeploying);
  EXPECT_TRUE(p.render) << "asked for again (after the renderer's backoff)";
  EXPECT_THAT(*p.status_patch, ::testing::HasSubstr(R"("reason":"RenderRetrying")"));
  EXPECT_THAT(*p.status_patch, ::testing::HasSubstr("no token of ServiceAccount"));
  env = WithStatus(env, p);

  now_ += config_.failure_deadline + absl::Seconds(1);
  p = Run(env);
  EXPECT_EQ(p.phase, v1alpha1::Phase::kFailed);
  EXPECT_THAT(*p.status_patch, ::testing::HasSubstr(R"("reason":"ProgressDeadlineExceeded")"));
}

// A helm Environment whose Project goes away waits for it: its chart's
// objects stay, and it does not become an Environment built from its own
// config (which a deployment-type Environment with an image would be).
TEST_F(HelmModeTest, WithoutItsProjectItWaitsAndKeepsTheChart) {
  kube::Object env = Env("0123456789abcdef0123456789abcdef01234567",
                         R"({"image":"ghcr.io/acme/shop:1","ports":[{"containerPort":3000}]})");
  MakeNamespace(env);
  Plan p = Run(env);
  state_.SetRendered(kKey, Rendered(*p.render, kChart));
  p = Run(env);
  Commit(p, true);
  env = WithStatus(env, p);
  p = Run(env);
  ASSERT_EQ(p.phase, v1alpha1::Phase::kReady);
  env = WithStatus(env, p);
  state_.Erase(v1alpha1::kProjects, "my-team", "catalyst");
  p = Run(env);
  EXPECT_EQ(p.phase, v1alpha1::Phase::kPending);
  EXPECT_THAT(Names(p), ::testing::IsEmpty()) << "nothing pruned, nothing built";
  EXPECT_THAT(*p.status_patch, ::testing::HasSubstr(R"("reason":"ProjectNotFound")"));
}

// Ready means rolled out, as `kubectl rollout status` has it: a ready pod of
// the old revision beside a new one that is not is no rollout.
TEST_F(HelmModeTest, AWorkloadIsReadyOnlyOnceRolledOut) {
  kube::Object env = Env();
  MakeNamespace(env);
  Plan p = Run(env);
  state_.SetRendered(kKey, Rendered(*p.render, kChart));
  Commit(Run(env), false);
  auto with_status = [&](kube::J status) {
    state_.Put(r::kDeployments,
               With(*state_.Get(r::kDeployments, kNs, "app"), {"status"}, std::move(status)));
    return Run(env).phase;
  };
  // Surging: the old pod ready, the new one not yet.
  EXPECT_EQ(with_status(J::Obj({{"observedGeneration", 0},
                                {"replicas", 2},
                                {"updatedReplicas", 1},
                                {"readyReplicas", 1},
                                {"availableReplicas", 1}})),
            v1alpha1::Phase::kDeploying);
  // New pod ready but not yet available (minReadySeconds).
  EXPECT_EQ(with_status(J::Obj({{"observedGeneration", 0},
                                {"replicas", 1},
                                {"updatedReplicas", 1},
                                {"readyReplicas", 1},
                                {"availableReplicas", 0}})),
            v1alpha1::Phase::kDeploying);
  EXPECT_EQ(with_status(J::Obj({{"observedGeneration", 0},
                                {"replicas", 1},
                                {"updatedReplicas", 1},
                                {"readyReplicas", 1},
                                {"availableReplicas", 1}})),
            v1alpha1::Phase::kReady);
}

// docs/contract.md, "Image builds": a template's builds run as Jobs before the
// chart is rendered; the digest each leaves is kept in status.builds and
// handed to the chart as global.images.<build>.
class ImageBuildsTest : public HelmModeTest {
 protected:
  static constexpr char kCommit[] = "0123456789abcdef0123456789abcdef01234567";
  static constexpr char kDigest[] =
      "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  void SetUp() override {
    HelmModeTest::SetUp();
    config_.registry = "registry.example.com:5000/catalyst";
    config_.web_url = "http://catalyst-web.catalyst.svc:3000";
    PutProject("helm", "");
  }
  // The Project with a deployment template of this type and one build, app.
  // spec_extra: more of the Project's spec, e.g. its resources.
  void PutProject(absl::string_view type, absl::string_view config,
                  absl::string_view spec_extra = "") {
    state_.Put(
        v1alpha1::kProjects,
        *kube::Object::Parse(absl::StrCat(
            R"({"apiVersion":"catalyst.catalyst.dev/v1alpha1","kind":"Project","metadata":{)",
            R"("name":"catalyst","namespace":"my-team","uid":"p-1","resourceVersion":"2",)",
            R"("labels":{"catalyst.dev/team":"my-team","catalyst.dev/project":"catalyst"}},)",
            R"("spec":{)", spec_extra,
            R"("githubInstallationId":"4242","sources":[{"name":"primary",)",
            R"("repositoryUrl":"https://github.com/acme/shop","branch":"main"}],)",
            R"("templates":{"deployment":{"sourceRef":"primary","type":")", type,
            R"(","path":"/deploy/chart","values":{"replicas":1},)", config,
            R"("builds":[{"name":"app","sourceRef":"primary","path":"./web",)",
            R"("dockerfile":"Dockerfile.prod"}]}}}})")));
  }
  // A pass whose finished builds' pods say `result` (counted in reads_).
  Plan RunBuilds(const kube::Object& env, std::optional<BuildResult> result = std::nullopt) {
    return PlanEnvironment({.env = env,
                            .state = state_,
                            .config = config_,
                            .now = now_,
                            .read_build = [&, result](absl::string_view ns, absl::string_view job) {
                              reads_.push_back(absl::StrCat(ns, "/", job));
                              return result;
                            }});
  }
  static const Action* JobOf(const Plan& p) {
    for (const Action& a : p.actions)
      if (a.resource.plural == "jobs" && a.type == Action::Type::kApply) return &a;
    return nullptr;
  }
  // The stored Job, finished: condition Complete (or Failed) True.
  void Finish(const std::string& job, absl::string_view condition) {
    state_.Put(r::kJobs,
               With(*state_.Get(r::kJobs, kNs, job), {"status"},
                    J::Obj({{"conditions", J::Arr({J::Obj({{"type", condition},
                                                           {"status", "True"},
                                                           {"reason", "BackoffLimitExceeded"},
                                                           {"message",
                                                            "Job has reached the "
                                                            "specified backoff limit"}})})}})));
  }
  // A new Environment up to its build Job (committed): the Job's name.
  std::string StartBuild(kube::Object& env) {
    MakeNamespace(env);
    Plan p = RunBuilds(env);
    const Action* job = JobOf(p);
    EXPECT_TRUE(job);
    Commit(p, false);
    env = WithStatus(env, p);
    return job ? job->name : "";
  }
  std::vector<std::string> reads_;
};

TEST_F(ImageBuildsTest, AJobBuildsTheImageThenTheChartGetsItsDigest) {
  kube::Object env = Env();
  MakeNamespace(env);
  Plan p = RunBuilds(env);
  EXPECT_EQ(p.phase, v1alpha1::Phase::kBuilding);
  EXPECT_FALSE(p.render) << "the chart waits for its images";
  const Action* job = JobOf(p);
  ASSERT_TRUE(job);
  EXPECT_THAT(job->name, ::testing::MatchesRegex("build-app-[0-9a-f]{8}"));
  const kube::Object& b = job->body;
  EXPECT_EQ(b.Label(kEnvironmentUidLabel), "u-7");
  EXPECT_EQ(b.Int({"spec", "backoffLimit"}), 0) << "a failed build is reported, not repeated";
  EXPECT_EQ(b.Int({"spec", "activeDeadlineSeconds"}), 1800);
  const std::string image =
      absl::StrCat("registry.example.com:5000/catalyst/my-team/catalyst/app-pr-7:", kCommit);
  const std::string body = b.Serialize();
  // git-clone: the template's source at the Environment's commit, with the web app's token.
  EXPECT_THAT(body, ::testing::HasSubstr(
                        absl::StrCat(R"("git-clone","https://github.com/acme/shop","main",")",
                                     kCommit, R"(","/workspace/src"])")));
  EXPECT_THAT(body, ::testing::HasSubstr(R"("name":"CATALYST_INSTALLATION_ID","value":"4242")"));
  // The builder: the context, the Dockerfile in it, the image; its digest as termination message.
  EXPECT_THAT(body, ::testing::HasSubstr(absl::StrCat(R"("build","/workspace/src/web",)",
                                                      R"("/workspace/src/web/Dockerfile.prod",")",
                                                      image, R"("])")));
  EXPECT_THAT(body, ::testing::HasSubstr(R"("image":"quay.io/buildah/stable:latest")"));
  EXPECT_EQ(b.Str({"spec", "template", "spec", "restartPolicy"}), "Never");
  EXPECT_EQ(b.Str({"spec", "template", "metadata", "labels", kBuildLabel}), "app");
  // Its egress: the registry's port (HTTPS alone is everyone's).
  bool policy = false;
  for (const Action& a : p.actions)
    if (a.name == kBuildPolicyName) {
      policy = true;
      EXPECT_THAT(a.body.Serialize(), ::testing::HasSubstr(R"({"protocol":"TCP","port":5000})"));
    }
  EXPECT_TRUE(policy);
  ASSERT_TRUE(p.status_patch);
  EXPECT_THAT(*p.status_patch,
              ::testing::HasSubstr(
                  absl::StrCat(R"("builds":[{"name":"app","state":"Running","commit":")", kCommit,
                               R"(","image":")", image, R"(","job":")", job->name, R"("}])")));
  EXPECT_THAT(*p.status_patch, ::testing::HasSubstr(R"("phase":"Building")"));
  const std::string name = job->name;
  Commit(p, false);
  env = WithStatus(env, p);

  // Running: nothing read, nothing new.
  p = RunBuilds(env);
  EXPECT_TRUE(reads_.empty());
  EXPECT_EQ(p.phase, v1alpha1::Phase::kBuilding);
  EXPECT_FALSE(p.status_patch);

  // Finished: its pods are read once, the digest kept, the chart asked for with it.
  Finish(name, "Complete");
  p = RunBuilds(env, BuildResult{true, kDigest});
  EXPECT_THAT(reads_, ::testing::ElementsAre(
                          absl::StrCat(kNs, "/", state_.Get(r::kJobs, kNs, name)->Uid())))
      << "its pods, by the Job's uid";
  ASSERT_TRUE(p.render);
  EXPECT_EQ(p.render->values_json,
            absl::StrCat(R"({"replicas":1,"global":{"images":{"app":{"repository":")",
                         "registry.example.com:5000/catalyst/my-team/catalyst/app-pr-7",
                         R"(","tag":")", kCommit, R"(","digest":")", kDigest, R"("}}}})"));
  EXPECT_THAT(*p.status_patch, ::testing::HasSubstr(absl::StrCat(R"("state":"Succeeded")")));
  EXPECT_THAT(*p.status_patch, ::testing::HasSubstr(absl::StrCat(R"("digest":")", kDigest)));
  EXPECT_THAT(*p.status_patch, ::testing::HasSubstr(R"("type":"Built","status":"True")"));
  for (const Action& a : p.actions) EXPECT_NE(a.type, Action::Type::kDelete) << a.name;
  env = WithStatus(env, p);

  // Remembered: not read again; the Job goes once the chart is in.
  reads_.clear();
  state_.SetRendered(kKey, Rendered(*p.render, kChart));
  p = RunBuilds(env);
  EXPECT_TRUE(reads_.empty());
  EXPECT_FALSE(p.render);
  EXPECT_THAT(Names(p), ::testing::Contains(absl::StrCat("jobs/", name)));
  for (const Action& a : p.actions)
    if (a.name == name) {
      EXPECT_EQ(a.type, Action::Type::kDelete);
    }
}

TEST_F(ImageBuildsTest, ABuiltCommitIsNotBuiltAgainANewOneIs) {
  kube::Object env = Env();
  const std::string name = StartBuild(env);
  Finish(name, "Complete");
  Plan p = RunBuilds(env, BuildResult{true, kDigest});
  env = WithStatus(env, p);
  state_.Erase(r::kJobs, kNs, name);
  p = RunBuilds(env);
  EXPECT_FALSE(JobOf(p)) << "the status remembers the image";
  EXPECT_NE(p.phase, v1alpha1::Phase::kBuilding);

  kube::Object next =
      EnvironmentBuilder(Env("89abcdef0123456789abcdef0123456789abcdef"))
          .StatusOfPatch(
              J::Obj({{"status", kube::Object::Copy(*env.Find({"status"}))}}).Serialize())
          .Build();
  p = RunBuilds(next);
  const Action* job = JobOf(p);
  ASSERT_TRUE(job) << "a new commit is a new image";
  EXPECT_NE(job->name, name);
  EXPECT_EQ(p.phase, v1alpha1::Phase::kBuilding);
}

TEST_F(ImageBuildsTest, AFailedBuildFailsTheEnvironmentWithItsLogTail) {
  kube::Object env = Env();
  const std::string name = StartBuild(env);
  Finish(name, "Failed");
  Plan p = RunBuilds(env, BuildResult{false,
                                      "exited with code 1: STEP 3/5: RUN npm ci\n"
                                      "npm ERR! missing script: build"});
  EXPECT_EQ(p.phase, v1alpha1::Phase::kFailed);
  EXPECT_FALSE(p.render);
  ASSERT_TRUE(p.status_patch);
  EXPECT_THAT(*p.status_patch, ::testing::HasSubstr(R"("reason":"BuildFailed")"));
  EXPECT_THAT(*p.status_patch, ::testing::HasSubstr("build app of "));
  EXPECT_THAT(*p.status_patch, ::testing::HasSubstr("npm ERR! missing script: build"));
  EXPECT_THAT(*p.status_patch, ::testing::HasSubstr(R"("state":"Failed")"));
  env = WithStatus(env, p);
  // Final for this Job: not read again, not run again, kept for its logs.
  reads_.clear();
  p = RunBuilds(env);
  EXPECT_TRUE(reads_.empty());
  EXPECT_EQ(p.phase, v1alpha1::Phase::kFailed);
  EXPECT_THAT(Names(p), ::testing::IsEmpty());

  // Without a pod to read (deleted, say), the Job's own condition is the reason.
  env = Env();
  state_.Erase(r::kJobs, kNs, name);
  Commit(RunBuilds(env), false);
  Finish(name, "Failed");
  p = RunBuilds(env, BuildResult{false, ""});
  EXPECT_THAT(*p.status_patch, ::testing::HasSubstr("BackoffLimitExceeded"));
}

TEST_F(ImageBuildsTest, ACompletedBuildWithoutADigestIsAFailure) {
  kube::Object env = Env();
  const std::string name = StartBuild(env);
  Finish(name, "Complete");
  Plan p = RunBuilds(env, BuildResult{true, "done"});
  EXPECT_EQ(p.phase, v1alpha1::Phase::kFailed);
  EXPECT_THAT(*p.status_patch, ::testing::HasSubstr("not an image digest"));
  // Pods that cannot be read now: asked again soon, still Building.
  env = Env();
  state_.Erase(r::kJobs, kNs, name);
  Commit(RunBuilds(env), false);
  Finish(name, "Complete");
  p = RunBuilds(env);
  EXPECT_EQ(p.phase, v1alpha1::Phase::kBuilding);
  EXPECT_EQ(p.requeue_after, absl::Seconds(5));
}

// Built once: the status remembers the image of the commit whichever Job
// made it, so an operator upgrade or a changed flag does not build again.
TEST_F(ImageBuildsTest, AChangedBuilderFlagDoesNotBuildAgain) {
  kube::Object env = Env();
  const std::string name = StartBuild(env);
  Finish(name, "Complete");
  env = WithStatus(env, RunBuilds(env, BuildResult{true, kDigest}));
  config_.builder_image = "quay.io/buildah/stable:v9";
  config_.build_memory_limit = "3Gi";
  Plan p = RunBuilds(env);
  EXPECT_FALSE(JobOf(p));
  EXPECT_NE(p.phase, v1alpha1::Phase::kBuilding);
  ASSERT_TRUE(p.render);
  EXPECT_THAT(p.render->values_json, ::testing::HasSubstr(kDigest));
}

// A new commit while the old one builds: the old Job (holding its share of
// the quota) goes at once.
TEST_F(ImageBuildsTest, AnEarlierCommitsRunningBuildIsDeleted) {
  kube::Object env = Env();
  const std::string old = StartBuild(env);
  kube::Object next =
      EnvironmentBuilder(Env("89abcdef0123456789abcdef0123456789abcdef"))
          .Generation(2)
          .StatusOfPatch(
              J::Obj({{"status", kube::Object::Copy(*env.Find({"status"}))}}).Serialize())
          .Build();
  Plan p = RunBuilds(next);
  const Action* job = JobOf(p);
  ASSERT_TRUE(job);
  EXPECT_NE(job->name, old);
  bool deleted = false;
  for (const Action& a : p.actions)
    deleted = deleted || (a.type == Action::Type::kDelete && a.name == old);
  EXPECT_TRUE(deleted) << absl::StrJoin(Names(p), " ");
  EXPECT_EQ(p.phase, v1alpha1::Phase::kBuilding);
}

// A failed build is final for its generation; a new one (the web app's
// retry, any spec change) deletes the failed Job and builds again.
TEST_F(ImageBuildsTest, ANewGenerationRetriesAFailedBuild) {
  kube::Object env = Env();
  const std::string name = StartBuild(env);
  Finish(name, "Failed");
  env = WithStatus(env, RunBuilds(env, BuildResult{false, "exited with code 1: network"}));
  ASSERT_EQ(ReadStatus(env).phase, v1alpha1::Phase::kFailed);
  env = EnvironmentBuilder(env).Generation(2).Build();
  Plan p = RunBuilds(env);
  EXPECT_THAT(Names(p), ::testing::Contains(absl::StrCat("jobs/", name)));
  for (const Action& a : p.actions)
    if (a.name == name) {
      EXPECT_EQ(a.type, Action::Type::kDelete) << "the failed Job goes first";
    }
  EXPECT_EQ(p.phase, v1alpha1::Phase::kBuilding);
  EXPECT_THAT(*p.status_patch, ::testing::HasSubstr(R"("state":"Running")"));
  env = WithStatus(env, p);
  // While the cache still shows the failed Job, it is not read again.
  reads_.clear();
  p = RunBuilds(env, BuildResult{false, "stale"});
  EXPECT_TRUE(reads_.empty());
  EXPECT_EQ(p.phase, v1alpha1::Phase::kBuilding);
  // Gone: a new attempt.
  state_.Erase(r::kJobs, kNs, name);
  p = RunBuilds(env);
  const Action* job = JobOf(p);
  ASSERT_TRUE(job);
  EXPECT_EQ(job->name, name) << "the same build of the same commit";
  EXPECT_EQ(p.phase, v1alpha1::Phase::kBuilding);
}

TEST_F(ImageBuildsTest, WithoutARegistryTheTemplateIsRefused) {
  config_.registry.clear();
  kube::Object env = Env();
  Plan p = RunBuilds(env);
  EXPECT_EQ(p.phase, v1alpha1::Phase::kFailed);
  EXPECT_THAT(*p.status_patch, ::testing::HasSubstr("--registry"));
  EXPECT_FALSE(JobOf(p));
}

// The web app's docker method: a manifest template whose build app makes the
// production image (no config image).
TEST_F(ImageBuildsTest, TheDockerMethodRunsTheBuiltImage) {
  PutProject("manifest", "");
  kube::Object env = Env();
  const std::string name = StartBuild(env);
  Plan p = RunBuilds(env);
  EXPECT_EQ(p.phase, v1alpha1::Phase::kBuilding);
  EXPECT_THAT(Names(p), ::testing::Not(::testing::Contains("deployments/web")));
  Finish(name, "Complete");
  p = RunBuilds(env, BuildResult{true, kDigest});
  Commit(p, /*deployments_ready=*/true);  // postgres first, then web
  env = WithStatus(env, p);
  p = RunBuilds(env);
  Commit(p, true);
  const auto web = state_.Get(r::kDeployments, kNs, "web");
  ASSERT_TRUE(web) << absl::StrJoin(Names(p), " ");
  EXPECT_THAT(
      web->Serialize(),
      ::testing::HasSubstr(absl::StrCat(
          R"("image":"registry.example.com:5000/catalyst/my-team/catalyst/app-pr-7@)", kDigest)));
}

// docs/contract.md, "Project" (compose mode): a docker-compose template is
// converted by the renderer (compose.h) and applied like a chart; the
// services without an image of their own run the template build of their name.
TEST_F(ImageBuildsTest, AComposeTemplateIsRenderedWithTheBuiltImages) {
  PutProject("docker-compose", "");
  kube::Object env = Env();
  const std::string name = StartBuild(env);
  Finish(name, "Complete");
  Plan p = RunBuilds(env, BuildResult{true, kDigest});
  ASSERT_TRUE(p.render);
  EXPECT_EQ(p.render->type, "docker-compose");
  EXPECT_EQ(p.render->chart_path, "deploy/chart");
  EXPECT_THAT(
      p.render->images,
      ::testing::ElementsAre(::testing::Pair(
          "app",
          absl::StrCat("registry.example.com:5000/catalyst/my-team/catalyst/app-pr-7@", kDigest))));
  EXPECT_THAT(*p.status_patch, ::testing::HasSubstr("rendering compose file deploy/chart"));
  EXPECT_THAT(Names(p), ::testing::Not(::testing::Contains("deployments/web")));
  EXPECT_EQ(p.render->default_cpu_limit, "") << "the quota has no limits.cpu";
  EXPECT_FALSE(p.render->pull_secret);
  RenderRequest helm = *p.render;
  helm.type = "helm";
  EXPECT_NE(helm.Digest(), p.render->Digest()) << "the mode is part of what is rendered";
  // The Project's defaultQuota.cpu puts limits.cpu in the quota: every
  // container of the compose file needs one.
  env = WithStatus(env, p);
  PutProject("docker-compose", "", R"("resources":{"defaultQuota":{"cpu":"2","memory":"4Gi"}},)");
  p = RunBuilds(env);
  ASSERT_TRUE(p.render);
  EXPECT_EQ(p.render->default_cpu_limit, config_.default_cpu_limit);
}

}  // namespace
}  // namespace controllers
