// The reconciler's skip of settled, unchanged Environments (pass_memo.h): what
// is skipped, and that drift, spec changes and deadlines still get a full pass.
#include "controllers/environment/pass_memo.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "api/v1alpha1/resources.h"
#include "controllers/environment/reconciler.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "informer/store.h"
#include "support/fake_clock.h"
#include "support/mock_transport.h"

namespace controllers {
namespace {

namespace r = kube::resources;
using ::testing::AllOf;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::Return;
using testing_support::Json;

// The informers' caches: a packed store per resource, as EnvironmentController
// has for the owned kinds.
class FakeState final : public ClusterState {
 public:
  std::optional<kube::Object> Get(const kube::Resource& res, absl::string_view ns,
                                  absl::string_view name) const override {
    auto it = stores_.find(Plural(res));
    if (it == stores_.end()) return std::nullopt;
    return it->second.Get(ns.empty() ? std::string(name) : absl::StrCat(ns, "/", name));
  }
  std::vector<kube::Object> Owned(const kube::Resource& res, absl::string_view uid) const override {
    std::vector<kube::Object> out;
    auto it = stores_.find(Plural(res));
    if (it != stores_.end())
      for (kube::Object& o : it->second.List())
        if (o.Label("catalyst.dev/environment-uid") == uid) out.push_back(std::move(o));
    return out;
  }
  // Every kind has a store, as every informer of EnvironmentController has.
  std::shared_ptr<const kube::CacheMark> AddMark(const kube::Resource& res) const override {
    return stores_.try_emplace(Plural(res), /*packed=*/true).first->second.AddMark();
  }
  informer::Store& store(const kube::Resource& res) {
    return stores_.try_emplace(Plural(res), /*packed=*/true).first->second;
  }
  void Put(const kube::Resource& res, const kube::Object& o) { store(res).Upsert(o); }
  void Erase(const kube::Resource& res, absl::string_view ns, absl::string_view name) {
    store(res).Remove(absl::StrCat(ns, "/", name));
  }
  // What a new Environment's first pass makes: its namespace.
  void MakeNamespace(const kube::Object& env) {
    for (const Action& a : PlanEnvironment({env, *this, OperatorConfig{}, absl::Now()}).actions)
      if ((a.type == Action::Type::kApply || a.type == Action::Type::kCreate) &&
          a.resource.plural == "namespaces")
        Put(a.resource, a.body);
  }

 private:
  static std::string Plural(const kube::Resource& res) {
    return absl::StrCat(res.group, "/", res.plural);
  }
  mutable std::map<std::string, informer::Store> stores_;
};

constexpr char kKey[] = "team/pr-1";
constexpr char kTargetNs[] = "team-pr-1";

std::string EnvJson(int rv, absl::string_view status) {
  return absl::StrCat(
      R"({"apiVersion":"catalyst.catalyst.dev/v1alpha1","kind":"Environment","metadata":{)",
      R"("name":"pr-1","namespace":"team","uid":"u-1","generation":1,"resourceVersion":")", rv,
      R"(","finalizers":["catalyst.dev/finalizer"]},"spec":{"type":"development",)",
      R"("projectRef":{"name":"p"},"sources":[{"name":"web",)",
      R"("repositoryUrl":"https://github.com/org/repo","branch":"main"}]})",
      status.empty() ? "" : absl::StrCat(R"(,"status":)", status), "}");
}

// As the API server stores an applied manifest; Deployments ready or not.
kube::Object Stored(const Action& a, int rv, bool ready) {
  std::string json = a.body.Serialize();
  const std::string meta = "\"metadata\":{";
  json.insert(json.find(meta) + meta.size(),
              absl::StrCat(R"("resourceVersion":")", rv, R"(","generation":1,)"));
  if (a.resource.plural == "deployments")
    json.insert(json.size() - 1, ready ? R"(,"status":{"observedGeneration":1,"readyReplicas":1,)"
                                         R"("updatedReplicas":1})"
                                       : R"(,"status":{"observedGeneration":1})");
  return *kube::Object::Parse(json);
}

class PassMemoTest : public ::testing::Test {
 protected:
  PassMemoTest() {
    auto t = std::make_unique<testing::StrictMock<testing_support::MockTransport>>();
    transport_ = t.get();
    client_ = std::make_unique<kube::Client>(
        std::move(t), kube::ClientOptions{.max_attempts = 1, .clock = &clock_});
    reconciler_ =
        std::make_unique<EnvironmentReconciler>(client_.get(), &envs_, &state_, config_, &clock_);
  }

  // Runs the planner as the cluster would answer it until the Environment
  // settles (deployments_ready) or waits for its Deployments (not ready).
  void Converge(bool deployments_ready) {
    for (int pass = 0; pass < 10; ++pass) {
      SetEnv();
      Plan plan = PlanEnvironment({*envs_.Get(kKey), state_, config_, clock_.Now()});
      if (plan.actions.empty() && !plan.status_patch) return;
      for (const auto& a : plan.actions)
        if (a.type == Action::Type::kApply || a.type == Action::Type::kCreate)
          state_.Put(a.resource, Stored(a, ++rv_, deployments_ready));
      if (plan.status_patch) {
        const std::string& p = *plan.status_patch;
        status_ = p.substr(strlen(R"({"status":)"), p.size() - strlen(R"({"status":)") - 1);
      }
    }
    FAIL() << "did not converge";
  }
  // Status patches and Events answered; declared first, so that a test's own
  // expectations (matched newest first) still decide about everything else.
  void AllowStatusAndEvents() {
    EXPECT_CALL(*transport_, Send(Field(&kube::HttpRequest::path, HasSubstr("/status"))))
        .WillRepeatedly(Return(Json(200, R"({"metadata":{}})")));
    EXPECT_CALL(*transport_, Send(Field(&kube::HttpRequest::path, HasSubstr("/events"))))
        .WillRepeatedly(Return(Json(201, R"({"metadata":{}})")));
  }
  // The Environment (a new resourceVersion) with the status so far.
  void SetEnv() { envs_.Upsert(*kube::Object::Parse(EnvJson(++rv_, status_))); }
  // A new Environment, not yet carrying the operator's finalizer.
  std::string SetEnvWithoutFinalizer() {
    std::string json = EnvJson(++rv_, "");
    const std::string finalizers = R"(,"finalizers":["catalyst.dev/finalizer"])";
    json.erase(json.find(finalizers), finalizers.size());
    envs_.Upsert(*kube::Object::Parse(json));
    return json;
  }
  // Relists the Deployments (new documents), edit applied to each JSON first;
  // returns the relist's changes.
  size_t RelistDeployments(const std::function<void(std::string&)>& edit) {
    informer::Store& deployments = state_.store(r::kDeployments);
    std::vector<kube::Object> relisted;
    for (const kube::Object& o : deployments.List()) {
      std::string json = o.Serialize();
      edit(json);
      relisted.push_back(*kube::Object::Parse(json));
    }
    return deployments.Replace(relisted).size();
  }

  testing_support::FakeClock clock_;
  OperatorConfig config_;
  informer::Store envs_;
  FakeState state_;
  testing::StrictMock<testing_support::MockTransport>* transport_ = nullptr;
  std::unique_ptr<kube::Client> client_;
  std::unique_ptr<EnvironmentReconciler> reconciler_;
  std::string status_;
  int rv_ = 10;
};

TEST_F(PassMemoTest, SettledReadyEnvironmentIsSkippedUntilSomethingChanges) {
  Converge(/*deployments_ready=*/true);
  // StrictMock: any request would fail the test.
  EXPECT_TRUE(reconciler_->Reconcile(kKey).status.ok());
  EXPECT_EQ(reconciler_->skipped(), 0);
  EXPECT_EQ(reconciler_->settled(), 1u);
  auto res = reconciler_->Reconcile(kKey);
  EXPECT_TRUE(res.status.ok());
  EXPECT_FALSE(res.requeue_after);
  EXPECT_EQ(reconciler_->skipped(), 1);

  // The Environment changes (a new resourceVersion): planned again, settles again.
  SetEnv();
  EXPECT_TRUE(reconciler_->Reconcile(kKey).status.ok());
  EXPECT_EQ(reconciler_->skipped(), 1);
  EXPECT_TRUE(reconciler_->Reconcile(kKey).status.ok());
  EXPECT_EQ(reconciler_->skipped(), 2);
}

TEST_F(PassMemoTest, DeletedOwnedObjectIsRecreated) {
  Converge(true);
  ASSERT_TRUE(reconciler_->Reconcile(kKey).status.ok());
  state_.Erase(r::kNetworkPolicies, kTargetNs, "environment-isolation");
  // The repair goes through Provisioning again (a status patch, an Event).
  AllowStatusAndEvents();
  EXPECT_CALL(*transport_,
              Send(AllOf(Field(&kube::HttpRequest::method, "PATCH"),
                         Field(&kube::HttpRequest::path,
                               HasSubstr("/networkpolicies/environment-isolation?fieldManager=")))))
      .WillOnce(Return(Json(200, R"({"metadata":{}})")));
  EXPECT_TRUE(reconciler_->Reconcile(kKey).status.ok());
  EXPECT_EQ(reconciler_->skipped(), 0);
  EXPECT_EQ(reconciler_->settled(), 0u) << "a pass with actions is not remembered";
}

TEST_F(PassMemoTest, ChangedOwnedObjectIsRepaired) {
  Converge(true);
  ASSERT_TRUE(reconciler_->Reconcile(kKey).status.ok());
  // Someone edits the quota: a new version whose spec is no longer ours.
  kube::Object quota = *state_.Get(r::kResourceQuotas, kTargetNs, "environment-quota");
  std::string json = quota.Serialize();
  const size_t at = json.find(R"("pods":")");
  ASSERT_NE(at, std::string::npos);
  json.replace(at, strlen(R"("pods":"20")"), R"("pods":"99")");
  json.replace(json.find(R"("resourceVersion":")"), strlen(R"("resourceVersion":")"),
               R"("resourceVersion":"9)");
  state_.Put(r::kResourceQuotas, *kube::Object::Parse(json));
  AllowStatusAndEvents();
  EXPECT_CALL(*transport_, Send(Field(&kube::HttpRequest::path,
                                      HasSubstr("/resourcequotas/environment-quota?"))))
      .WillOnce(Return(Json(200, R"({"metadata":{}})")));
  EXPECT_TRUE(reconciler_->Reconcile(kKey).status.ok());
  EXPECT_EQ(reconciler_->skipped(), 0);
}

TEST_F(PassMemoTest, SameVersionFromARelistStillSkips) {
  Converge(true);
  ASSERT_TRUE(reconciler_->Reconcile(kKey).status.ok());
  // A relist hands out new documents of the same versions; the store keeps
  // the cached ones.
  EXPECT_EQ(RelistDeployments([](std::string&) {}), 0u);
  envs_.Upsert(*kube::Object::Parse(envs_.Get(kKey)->Serialize()));
  EXPECT_TRUE(reconciler_->Reconcile(kKey).status.ok());
  EXPECT_EQ(reconciler_->skipped(), 1);
}

TEST_F(PassMemoTest, ObjectChangedByARelistIsRepaired) {
  Converge(true);
  ASSERT_TRUE(reconciler_->Reconcile(kKey).status.ok());
  // While the watch was down someone scaled the web Deployment to 0.
  bool scaled = false;
  EXPECT_EQ(RelistDeployments([&](std::string& json) {
              if (json.find(R"("name":"web")") == std::string::npos) return;
              const size_t at = json.find(R"("replicas":1)");
              if (at == std::string::npos) return;
              json.replace(at, strlen(R"("replicas":1)"), R"("replicas":0)");
              json.replace(json.find(R"("resourceVersion":")"), strlen(R"("resourceVersion":")"),
                           R"("resourceVersion":"9)");
              scaled = true;
            }),
            1u);
  ASSERT_TRUE(scaled);
  AllowStatusAndEvents();
  EXPECT_CALL(*transport_, Send(Field(&kube::HttpRequest::path, HasSubstr("/deployments/web?"))))
      .WillOnce(Return(Json(200, R"({"metadata":{}})")));
  EXPECT_TRUE(reconciler_->Reconcile(kKey).status.ok());
  EXPECT_EQ(reconciler_->skipped(), 0);
}

TEST_F(PassMemoTest, PendingDeadlineIsNeverSkippedAndFires) {
  // Postgres never becomes ready: Provisioning, the failure deadline running.
  Converge(/*deployments_ready=*/false);
  // Each pass lists the pods (and, with no cause among them, the ReplicaSets)
  // to name the cause: nothing is remembered.
  EXPECT_CALL(*transport_, Send(Field(&kube::HttpRequest::path, HasSubstr("/pods?"))))
      .Times(2)
      .WillRepeatedly(Return(Json(200, R"({"kind":"PodList","apiVersion":"v1","items":[]})")));
  EXPECT_CALL(*transport_, Send(Field(&kube::HttpRequest::path, HasSubstr("/replicasets?"))))
      .Times(2)
      .WillRepeatedly(
          Return(Json(200, R"({"kind":"ReplicaSetList","apiVersion":"apps/v1","items":[]})")));
  auto res = reconciler_->Reconcile(kKey);
  ASSERT_TRUE(res.status.ok());
  ASSERT_TRUE(res.requeue_after);
  EXPECT_EQ(reconciler_->settled(), 0u);
  // Past the deadline: the next pass (a resync) fails it.
  clock_.Advance(config_.failure_deadline + absl::Seconds(1));
  EXPECT_CALL(*transport_,
              Send(AllOf(Field(&kube::HttpRequest::path, HasSubstr("/status")),
                         Field(&kube::HttpRequest::body, HasSubstr("ProgressDeadlineExceeded")))))
      .WillOnce(Return(Json(200, R"({"metadata":{}})")));
  EXPECT_CALL(*transport_, Send(Field(&kube::HttpRequest::path, HasSubstr("/events"))))
      .WillOnce(Return(Json(201, R"({"metadata":{}})")));
  EXPECT_TRUE(reconciler_->Reconcile(kKey).status.ok());
  EXPECT_EQ(reconciler_->skipped(), 0);
}

TEST_F(PassMemoTest, GoneEnvironmentIsForgotten) {
  Converge(true);
  ASSERT_TRUE(reconciler_->Reconcile(kKey).status.ok());
  ASSERT_EQ(reconciler_->settled(), 1u);
  envs_.Remove(kKey);
  EXPECT_TRUE(reconciler_->Reconcile(kKey).status.ok());
  EXPECT_EQ(reconciler_->settled(), 0u);
}

TEST_F(PassMemoTest, AnOrphanedEnvironmentIsNotPatchedEveryResync) {
  // Stored and listed, but its namespace is gone: the API server answers every
  // write with a 404 for the namespace (seen in e2e runs), a GET with 200.
  const std::string json = SetEnvWithoutFinalizer();
  EXPECT_CALL(*transport_, Send(AllOf(Field(&kube::HttpRequest::method, "PATCH"),
                                      Field(&kube::HttpRequest::path, HasSubstr("/pr-1")))))
      .Times(2)
      .WillRepeatedly(Return(Json(404, R"({"kind":"Status","apiVersion":"v1","status":"Failure",)"
                                       R"("message":"namespaces "team" not found",)"
                                       R"("reason":"NotFound","code":404})")));
  EXPECT_CALL(*transport_, Send(AllOf(Field(&kube::HttpRequest::method, "GET"),
                                      Field(&kube::HttpRequest::path, HasSubstr("/pr-1")))))
      .Times(2)
      .WillRepeatedly(Return(Json(200, json)));
  EXPECT_TRUE(reconciler_->Reconcile(kKey).status.ok());
  // A minute of resyncs: nothing sent (StrictMock, Times(2) above).
  for (int i = 0; i < 12; ++i) {
    clock_.Advance(absl::Seconds(5));
    EXPECT_TRUE(reconciler_->Reconcile(kKey).status.ok());
  }
  EXPECT_EQ(reconciler_->skipped(), 12);
  // After the retry interval it is tried (and named) again.
  clock_.Advance(absl::Minutes(5));
  EXPECT_TRUE(reconciler_->Reconcile(kKey).status.ok());
  EXPECT_EQ(reconciler_->skipped(), 12);
}

TEST_F(PassMemoTest, AnEnvironmentDeletedDuringThePassIsNotAnOrphan) {
  SetEnvWithoutFinalizer();
  const auto not_found = Json(404, R"({"kind":"Status","apiVersion":"v1","status":"Failure",)"
                                   R"("reason":"NotFound","code":404})");
  EXPECT_CALL(*transport_, Send(AllOf(Field(&kube::HttpRequest::method, "PATCH"),
                                      Field(&kube::HttpRequest::path, HasSubstr("/pr-1")))))
      .Times(2)
      .WillRepeatedly(Return(not_found));
  EXPECT_CALL(*transport_, Send(AllOf(Field(&kube::HttpRequest::method, "GET"),
                                      Field(&kube::HttpRequest::path, HasSubstr("/pr-1")))))
      .Times(2)
      .WillRepeatedly(Return(not_found));
  // Gone on the server: nothing to remember; the watch's DELETED will follow.
  EXPECT_TRUE(reconciler_->Reconcile(kKey).status.ok());
  EXPECT_EQ(reconciler_->settled(), 0u);
  EXPECT_TRUE(reconciler_->Reconcile(kKey).status.ok());
}

TEST(SettledTest, OnlyFinalPhasesWithNothingPending) {
  Plan p;
  p.phase = v1alpha1::Phase::kReady;
  EXPECT_TRUE(Settled(p));
  p.phase = v1alpha1::Phase::kFailed;
  EXPECT_TRUE(Settled(p));
  for (v1alpha1::Phase phase : {v1alpha1::Phase::kPending, v1alpha1::Phase::kProvisioning,
                                v1alpha1::Phase::kDeploying, v1alpha1::Phase::kTerminating}) {
    p.phase = phase;
    EXPECT_FALSE(Settled(p)) << v1alpha1::PhaseName(phase);
  }
  p.phase = v1alpha1::Phase::kFailed;
  p.requeue_after = absl::Seconds(5);
  EXPECT_FALSE(Settled(p));
  p.requeue_after.reset();
  p.diagnose_selector = "app.kubernetes.io/name=web";
  EXPECT_FALSE(Settled(p));
  p.diagnose_selector.clear();
  p.status_patch = "{}";
  EXPECT_FALSE(Settled(p));
}

// An absence is watched through the cache's add mark: a pass that found no
// Project (or no pull credentials) holds until the cache adds something.
// A write the leader fence refuses (FailedPrecondition, like an orphan's
// outcome used to be) is an error to retry with backoff, never an
// Environment remembered as orphaned and left alone for minutes.
TEST(ReconcilerFenceTest, AFencedWriteIsRetriedNotTakenForAnOrphan) {
  class Closed final : public kube::WriteFence {
   public:
    absl::Status AllowWrite() const override {
      return absl::FailedPreconditionError("not the leader any more");
    }
  } fence;
  testing_support::FakeClock clock;
  auto t = std::make_unique<testing::StrictMock<testing_support::MockTransport>>();
  kube::Client client(std::move(t), {.max_attempts = 1, .clock = &clock, .fence = &fence});
  informer::Store envs;
  FakeState state;
  envs.Upsert(*kube::Object::Parse(EnvJson(1, "")));
  EnvironmentReconciler reconciler(&client, &envs, &state, OperatorConfig{}, &clock);
  for (int pass = 0; pass < 2; ++pass) {
    workqueue::ReconcileResult r = reconciler.Reconcile(kKey);
    EXPECT_TRUE(absl::IsFailedPrecondition(r.status)) << r.status;
    EXPECT_EQ(reconciler.settled(), 0u) << "not remembered";
    EXPECT_EQ(reconciler.skipped(), 0) << "planned again";
  }
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
  FakeState state;
  const auto env = *kube::Object::Parse(EnvJson(1, ""));
  const OperatorConfig cfg;
  const absl::Time now = absl::Now();
  state.MakeNamespace(env);
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

// An Environment's name may be 253 characters: its Events are named by the
// server (generateName), never "<name>.<nanoseconds>" past the limit.
TEST(ReconcilerEventTest, EventsOfLongNamedEnvironmentsHaveValidNames) {
  testing_support::FakeClock clock;
  auto t = std::make_unique<testing::NiceMock<testing_support::MockTransport>>();
  std::vector<std::string> events;
  ON_CALL(*t, Send(::testing::_)).WillByDefault([&](const kube::HttpRequest& req) {
    if (absl::StrContains(req.path, "/events")) events.push_back(req.body);
    return Json(200, R"({"metadata":{}})");
  });
  kube::Client client(std::move(t), {.max_attempts = 1, .clock = &clock});
  informer::Store envs;
  FakeState state;
  const std::string name(253, 'n');
  std::string json = EnvJson(1, "");
  json.replace(json.find(R"("name":"pr-1")"), 13, absl::StrCat(R"("name":")", name, R"(")"));
  envs.Upsert(*kube::Object::Parse(json));
  EnvironmentReconciler reconciler(&client, &envs, &state, OperatorConfig{}, &clock);
  (void)reconciler.Reconcile(absl::StrCat("team/", name));  // the namespace
  state.MakeNamespace(*envs.Get(absl::StrCat("team/", name)));
  (void)reconciler.Reconcile(absl::StrCat("team/", name));
  ASSERT_FALSE(events.empty());
  for (const std::string& e : events) {
    auto o = kube::Object::Parse(e);
    ASSERT_TRUE(o.ok());
    EXPECT_EQ(o->Name(), "");
    const absl::string_view prefix = o->Str({"metadata", "generateName"});
    EXPECT_LE(prefix.size(), 253u - 5) << "room for the server's suffix";
    EXPECT_EQ(o->Str({"involvedObject", "name"}), name);
  }
}

TEST(RecordingStateTest, AbsentReadIsWatchedThroughTheAddMark) {
  FakeState state;
  state.Put(
      r::kServices,
      *kube::Object::Parse(R"({"metadata":{"namespace":"n","name":"web","resourceVersion":"1"}})"));
  RecordingState rec(state);
  EXPECT_TRUE(rec.Get(r::kServices, "n", "web"));
  EXPECT_TRUE(rec.Get(r::kServices, "n", "web"));  // a repeat is kept once
  EXPECT_FALSE(rec.Get(v1alpha1::kProjects, "team", "p"));
  EXPECT_TRUE(rec.complete());
  std::vector<Mark> reads = rec.TakeReads();
  EXPECT_EQ(reads.size(), 2u);
  PassMemo memo;
  const auto env = *kube::Object::Parse(EnvJson(1, ""));
  memo.Remember(kKey, env, reads);
  EXPECT_TRUE(memo.Unchanged(kKey, env, absl::Now()));
  // Another Project anywhere: the absence may have ended; plan again.
  state.Put(
      v1alpha1::kProjects,
      *kube::Object::Parse(R"({"metadata":{"namespace":"x","name":"q","resourceVersion":"3"}})"));
  EXPECT_FALSE(memo.Unchanged(kKey, env, absl::Now()));
}

TEST(RecordingStateTest, AbsentPullCredentialsAreWatchedThroughTheirCachesAddMark) {
  FakeState state;
  RecordingState rec(state);
  EXPECT_FALSE(rec.RegistryCredentials("team"));
  EXPECT_TRUE(rec.complete());
  PassMemo memo;
  const auto env = *kube::Object::Parse(EnvJson(1, ""));
  memo.Remember(kKey, env, rec.TakeReads());
  EXPECT_TRUE(memo.Unchanged(kKey, env, absl::Now()));
  // The team's credentials appear: the pass that went without them is stale.
  state.Put(r::kSecrets, *kube::Object::Parse(R"({"metadata":{"namespace":"team",
      "name":"registry-credentials","resourceVersion":"2"}})"));
  EXPECT_FALSE(memo.Unchanged(kKey, env, absl::Now()));
}

// A cache without an add mark cannot tell when an absence ends.
TEST(RecordingStateTest, AbsentReadWithoutAnAddMarkMakesThePassIncomplete) {
  class NoMarks final : public ClusterState {
   public:
    std::optional<kube::Object> Get(const kube::Resource&, absl::string_view,
                                    absl::string_view) const override {
      return std::nullopt;
    }
    std::vector<kube::Object> Owned(const kube::Resource&, absl::string_view) const override {
      return {};
    }
  } state;
  RecordingState rec(state);
  EXPECT_FALSE(rec.Get(r::kIngresses, "n", "web"));
  EXPECT_FALSE(rec.complete());
  EXPECT_TRUE(rec.TakeReads().empty());
}

TEST(PassMemoMarkTest, AnObjectReplacedWhileThePassRanIsNotCurrent) {
  // The race a lookup-free check must not lose: the pass reads an object, the
  // informer replaces it, then the pass is remembered.
  FakeState state;
  informer::Store envs;
  const auto env = *kube::Object::Parse(EnvJson(1, ""));
  const auto svc =
      *kube::Object::Parse(R"({"metadata":{"namespace":"n","name":"web","resourceVersion":"1"}})");
  state.Put(r::kServices, svc);
  RecordingState rec(state);
  ASSERT_TRUE(rec.Get(r::kServices, "n", "web"));
  state.Put(
      r::kServices,
      *kube::Object::Parse(R"({"metadata":{"namespace":"n","name":"web","resourceVersion":"2"}})"));
  PassMemo memo;
  const absl::Time now = absl::Now();
  memo.Remember(kKey, env, rec.TakeReads());
  EXPECT_FALSE(memo.Unchanged(kKey, env, now));
  EXPECT_EQ(memo.size(), 0u) << "a memo that no longer holds is dropped";

  RecordingState rec2(state);
  ASSERT_TRUE(rec2.Get(r::kServices, "n", "web"));
  memo.Remember(kKey, env, rec2.TakeReads());
  EXPECT_TRUE(memo.Unchanged(kKey, env, now));
  EXPECT_TRUE(memo.Unchanged(kKey, *kube::Object::Parse(EnvJson(1, "")), now))
      << "the same Environment version in a new document";
  EXPECT_FALSE(memo.Unchanged(kKey, *kube::Object::Parse(EnvJson(2, "")), now));
  RecordingState rec3(state);
  ASSERT_TRUE(rec3.Get(r::kServices, "n", "web"));
  memo.Remember(kKey, env, rec3.TakeReads());
  state.Erase(r::kServices, "n", "web");
  EXPECT_FALSE(memo.Unchanged(kKey, env, now)) << "deleted";
  RecordingState rec4(state);
  memo.Remember(kKey, env, rec4.TakeReads(), now + absl::Minutes(5));
  EXPECT_TRUE(memo.Unchanged(kKey, env, now + absl::Minutes(4)));
  EXPECT_FALSE(memo.Unchanged(kKey, env, now + absl::Minutes(5))) << "past not_after";
}

// The API server's answers to the reconciler's writes, into the caches as
// EnvironmentController's CacheView does (informer::Informer::WriteThrough).
class WritingThrough final : public CacheWriter {
 public:
  WritingThrough(informer::Store* envs, FakeState* state) : envs_(envs), state_(state) {}
  void Written(const kube::Resource& r, const kube::Object& answer) override {
    ++writes;
    if (r.plural == "environments")
      envs_->Upsert(answer);
    else
      state_->Put(r, answer);
  }
  int writes = 0;

 private:
  informer::Store* const envs_;
  FakeState* const state_;
};

// As the API server answers an apply or a status patch: the object stored
// at a new resourceVersion.
std::string WithVersion(std::string json, int rv) {
  const std::string meta = "\"metadata\":{";
  json.insert(json.find(meta) + meta.size(), absl::StrCat(R"("resourceVersion":")", rv, R"(",)"));
  return json;
}

// docs/reliability.md, "Write once": the Environments' watch is broken (the
// cache never shows the operator's own status writes), yet each transition is
// written and announced once, and a settled Environment costs no request.
TEST_F(PassMemoTest, EachTransitionIsWrittenOnceWhileTheWatchLags) {
  Converge(/*deployments_ready=*/false);  // Provisioning: postgres not ready, no web yet
  WritingThrough written(&envs_, &state_);
  EnvironmentReconciler reconciler(client_.get(), &envs_, &state_, config_, &clock_, nullptr,
                                   &written);
  auto make_ready = [&](const kube::Object& d) {
    std::string json = d.Serialize();
    const size_t at = json.find(R"("status":{)");
    ASSERT_NE(at, std::string::npos) << json;
    json.insert(at + strlen(R"("status":{)"), R"("readyReplicas":1,"updatedReplicas":1,)");
    json.replace(json.find(R"("resourceVersion":")"), strlen(R"("resourceVersion":")"),
                 R"("resourceVersion":"9)");
    state_.Put(r::kDeployments, *kube::Object::Parse(json));
  };
  for (const kube::Object& d : state_.store(r::kDeployments).List()) make_ready(d);
  int status_writes = 0;
  std::vector<std::string> events;
  auto expect_writes = [&] {
    EXPECT_CALL(*transport_, Send(Field(&kube::HttpRequest::path, HasSubstr("fieldManager="))))
        .WillRepeatedly([&](const kube::HttpRequest& req) {
          std::string json = req.body;
          if (req.path.find("/deployments/") != std::string::npos)
            json.insert(json.size() - 1, R"(,"status":{"observedGeneration":1})");
          return Json(200, WithVersion(json, ++rv_));
        });
    EXPECT_CALL(*transport_, Send(Field(&kube::HttpRequest::path, HasSubstr("/status"))))
        .WillRepeatedly([&](const kube::HttpRequest& req) {
          ++status_writes;
          const size_t prefix = strlen(R"({"status":)");
          status_ = req.body.substr(prefix, req.body.size() - prefix - 1);
          return Json(200, EnvJson(++rv_, status_));
        });
    EXPECT_CALL(*transport_, Send(Field(&kube::HttpRequest::path, HasSubstr("/events"))))
        .WillRepeatedly([&](const kube::HttpRequest& req) {
          events.push_back(req.body);
          return Json(201, R"({"metadata":{}})");
        });
    EXPECT_CALL(*transport_, Send(Field(&kube::HttpRequest::method, "GET")))
        .WillRepeatedly(Return(Json(200, R"({"kind":"List","apiVersion":"v1","items":[]})")));
  };
  expect_writes();
  // Postgres ready: the web part is applied, Deploying; resyncs change nothing.
  for (int i = 0; i < 4; ++i, clock_.Advance(absl::Seconds(5)))
    ASSERT_TRUE(reconciler.Reconcile(kKey).status.ok());
  EXPECT_THAT(status_, HasSubstr(R"("phase":"Deploying")"));
  EXPECT_EQ(status_writes, 1);
  ASSERT_EQ(events.size(), 1u);
  // The web Deployment becomes ready (its own watch works): Ready, once.
  auto web = state_.Get(r::kDeployments, kTargetNs, "web");
  ASSERT_TRUE(web);
  make_ready(*web);
  for (int i = 0; i < 4; ++i, clock_.Advance(absl::Seconds(5)))
    ASSERT_TRUE(reconciler.Reconcile(kKey).status.ok());
  EXPECT_THAT(status_, HasSubstr(R"("phase":"Ready")"));
  EXPECT_EQ(status_writes, 2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_THAT(events[1], HasSubstr("Ready"));
  // Settled: from here on any request fails the test (StrictMock).
  testing::Mock::VerifyAndClearExpectations(transport_);
  for (int i = 0; i < 3; ++i, clock_.Advance(absl::Seconds(5)))
    EXPECT_TRUE(reconciler.Reconcile(kKey).status.ok());
  // The watch delivers the write's own version, then a lagging event of the
  // version before it: neither makes a pass write anything.
  envs_.Upsert(*kube::Object::Parse(EnvJson(rv_, status_)));
  EXPECT_TRUE(reconciler.Reconcile(kKey).status.ok());
  envs_.Upsert(*kube::Object::Parse(EnvJson(rv_ - 1, "")));
  EXPECT_EQ(envs_.Get(kKey)->ResourceVersion(), absl::StrCat(rv_));
  EXPECT_TRUE(reconciler.Reconcile(kKey).status.ok());
}

}  // namespace
}  // namespace controllers
