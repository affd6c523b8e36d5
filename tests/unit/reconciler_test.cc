// EnvironmentReconciler (reconciler.h): one pass over the caches and the API
// server. Which passes it skips (the pass memo: settled, unchanged
// Environments) and which it does not (drift, spec changes, deadlines, pods
// read); writes refused by the leader fence; Event names; each transition
// written once while the watch lags; and the failure diagnosis as it leaves
// the operator: what a crashing container printed reaches the Environment's
// status, its Event and the operator's log redacted of the Environment's
// secrets (redact.h), and capped (32 KiB a condition message, 1 KiB an Event
// message).
#include "controllers/environment/reconciler.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "api/v1alpha1/resources.h"
#include "controllers/environment/planner.h"
#include "controllers/environment/redact.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "informer/store.h"
#include "kube/json_builder.h"
#include "support/environment_fixture.h"
#include "support/fake_clock.h"
#include "support/fake_cluster_state.h"
#include "support/mock_transport.h"
#include "util/log.h"

namespace controllers {
namespace {

namespace r = kube::resources;
using ::testing::_;
using ::testing::AllOf;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Return;
using testing_support::AsStored;
using testing_support::EnvironmentBuilder;
using testing_support::FakeClusterState;
using testing_support::Json;

constexpr char kKey[] = "team/pr-1";
constexpr char kTargetNs[] = "team-pr-1";

// The status a status patch ({"status":{...}}) writes, as JSON.
std::string StatusIn(absl::string_view patch) {
  return kube::Object::Copy(*kube::Object::Parse(patch)->Find({"status"})).Serialize();
}

// A reconciler over the caches (state_, envs_) and a mock API server
// (Strictness: testing::StrictMock or NiceMock), and the Environment team/pr-1.
template <template <class> class Strictness>
class ReconcilerTest : public ::testing::Test {
 protected:
  ReconcilerTest() {
    auto t = std::make_unique<Strictness<testing_support::MockTransport>>();
    transport_ = t.get();
    client_ = std::make_unique<kube::Client>(
        std::move(t), kube::ClientOptions{.max_attempts = 1, .clock = &clock_});
    reconciler_ =
        std::make_unique<EnvironmentReconciler>(client_.get(), &envs_, &state_, config_, &clock_);
  }

  // The Environment (env_) at resourceVersion rv with status (JSON, "" for none).
  kube::Object Env(int rv, const std::string& status) const {
    return EnvironmentBuilder(env_).ResourceVersion(rv).StatusJson(status).Build();
  }
  // The Environment (a new resourceVersion) with the status so far.
  void SetEnv() { envs_.Upsert(Env(++rv_, status_)); }
  // Runs the planner as the cluster would answer it (a Deployment ready when
  // `ready` says so) until a pass plans nothing more; returns that pass.
  Plan Converge(const std::function<bool(const Action&)>& ready,
                const std::string& fresh_password = "") {
    for (int pass = 0; pass < 10; ++pass) {
      SetEnv();
      Plan plan = PlanEnvironment(
          {*envs_.Get(kKey), state_, config_, clock_.Now(), nullptr, fresh_password});
      if (plan.actions.empty() && !plan.status_patch) return plan;
      state_.Commit(plan, [&](const Action& a) { return AsStored(a, ++rv_, 1, ready(a)); });
      if (plan.status_patch) status_ = StatusIn(*plan.status_patch);
    }
    ADD_FAILURE() << "did not converge";
    return Plan();
  }

  testing_support::FakeClock clock_;
  OperatorConfig config_;
  informer::Store envs_;
  FakeClusterState state_;
  Strictness<testing_support::MockTransport>* transport_ = nullptr;
  std::unique_ptr<kube::Client> client_;
  std::unique_ptr<EnvironmentReconciler> reconciler_;
  EnvironmentBuilder env_ = EnvironmentBuilder().Finalizer();
  std::string status_;
  int rv_ = 10;
};

// The pass memo (pass_memo.h) as the reconciler uses it; any request not
// expected fails the test.
class PassMemoTest : public ReconcilerTest<testing::StrictMock> {
 protected:
  // Converges until the Environment settles (deployments_ready) or waits for
  // its Deployments (not ready).
  void Converge(bool deployments_ready) {
    ReconcilerTest::Converge([&](const Action&) { return deployments_ready; });
  }
  // Status patches and Events answered; declared first, so that a test's own
  // expectations (matched newest first) still decide about everything else.
  void AllowStatusAndEvents() {
    EXPECT_CALL(*transport_, Send(Field(&kube::HttpRequest::path, HasSubstr("/status"))))
        .WillRepeatedly(Return(Json(200, R"({"metadata":{}})")));
    EXPECT_CALL(*transport_, Send(Field(&kube::HttpRequest::path, HasSubstr("/events"))))
        .WillRepeatedly(Return(Json(201, R"({"metadata":{}})")));
  }
  // A new Environment, not yet carrying the operator's finalizer.
  std::string SetEnvWithoutFinalizer() {
    const kube::Object env = EnvironmentBuilder().ResourceVersion(++rv_).Build();
    envs_.Upsert(env);
    return env.Serialize();
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

// A Failed Environment whose cause was read from its pods (not cached: no
// mark tells when they change) is planned again every pass, even when that
// pass has nothing to write.
TEST_F(PassMemoTest, APassThatReadPodsIsNotRemembered) {
  Converge(/*deployments_ready=*/false);
  clock_.Advance(config_.failure_deadline + absl::Seconds(1));
  const std::string pod = R"({"metadata":{"name":"postgres-1"},"status":{"containerStatuses":[
      {"name":"postgres","restartCount":3,"ready":false,"lastState":{"terminated":{
       "reason":"OOMKilled","exitCode":137}}}]}})";
  Plan failed = PlanEnvironment(
      {*envs_.Get(kKey), state_, config_, clock_.Now(), [&](absl::string_view, absl::string_view) {
         return std::optional<Diagnosis>(Diagnose({*kube::Object::Parse(pod)}));
       }});
  ASSERT_EQ(failed.phase, v1alpha1::Phase::kFailed);
  ASSERT_TRUE(failed.status_patch);
  status_ = StatusIn(*failed.status_patch);
  SetEnv();
  EXPECT_CALL(*transport_, Send(Field(&kube::HttpRequest::path, HasSubstr("/pods?"))))
      .Times(2)
      .WillRepeatedly(Return(
          Json(200, absl::StrCat(R"({"kind":"PodList","apiVersion":"v1","items":[)", pod, "]}"))));
  for (int pass = 0; pass < 2; ++pass) {
    const auto res = reconciler_->Reconcile(kKey);
    ASSERT_TRUE(res.status.ok());
    EXPECT_FALSE(res.requeue_after) << "Failed past the deadline: nothing pending";
  }
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
  FakeClusterState state;
  envs.Upsert(EnvironmentBuilder().Finalizer().ResourceVersion(1).Build());
  EnvironmentReconciler reconciler(&client, &envs, &state, OperatorConfig{}, &clock);
  for (int pass = 0; pass < 2; ++pass) {
    workqueue::ReconcileResult r = reconciler.Reconcile(kKey);
    EXPECT_TRUE(absl::IsFailedPrecondition(r.status)) << r.status;
    EXPECT_EQ(reconciler.settled(), 0u) << "not remembered";
    EXPECT_EQ(reconciler.skipped(), 0) << "planned again";
  }
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
  FakeClusterState state;
  const std::string name(253, 'n');
  envs.Upsert(EnvironmentBuilder().Name(name).Finalizer().ResourceVersion(1).Build());
  EnvironmentReconciler reconciler(&client, &envs, &state, OperatorConfig{}, &clock);
  (void)reconciler.Reconcile(absl::StrCat("team/", name));  // the namespace
  state.Commit(PlanEnvironment({*envs.Get(absl::StrCat("team/", name)), state, OperatorConfig{},
                                absl::Now()}));  // as the server stores it
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

// The API server's answers to the reconciler's writes, into the caches as
// EnvironmentController's CacheView does (informer::Informer::WriteThrough).
class WritingThrough final : public CacheWriter {
 public:
  WritingThrough(informer::Store* envs, FakeClusterState* state) : envs_(envs), state_(state) {}
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
  FakeClusterState* const state_;
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
          status_ = StatusIn(req.body);
          return Json(200, Env(++rv_, status_).Serialize());
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
  envs_.Upsert(Env(rv_, status_));
  EXPECT_TRUE(reconciler.Reconcile(kKey).status.ok());
  envs_.Upsert(Env(rv_ - 1, ""));
  EXPECT_EQ(envs_.Get(kKey)->ResourceVersion(), absl::StrCat(rv_));
  EXPECT_TRUE(reconciler.Reconcile(kKey).status.ok());
}

constexpr char kPassword[] = "0123456789abcdef0123456789abcdef";
constexpr char kTeamSecret[] = "sk-live-team-secret-42";
constexpr char kUrlPassword[] = "url-pw-9876";
constexpr char kGitHubToken[] = "ghp_aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6";

// A web pod whose container keeps failing with message (its log tail), or
// that no node can take, for the reason message.
std::string PodList(const std::string& message, bool unschedulable) {
  using kube::J;
  J status =
      unschedulable
          ? J::Obj({{"conditions", J::Arr({J::Obj({{"type", "PodScheduled"},
                                                   {"status", "False"},
                                                   {"reason", "Unschedulable"},
                                                   {"message", message}})})}})
          : J::Obj(
                {{"containerStatuses",
                  J::Arr({J::Obj(
                      {{"name", "web"},
                       {"ready", false},
                       {"restartCount", 3},
                       {"state", J::Obj({{"waiting", J::Obj({{"reason", "CrashLoopBackOff"}})}})},
                       {"lastState",
                        J::Obj({{"terminated", J::Obj({{"reason", "Error"},
                                                       {"exitCode", 1},
                                                       {"message", message}})}})}})})}});
  return J::Obj({{"kind", "PodList"},
                 {"apiVersion", "v1"},
                 {"items", J::Arr({J::Obj({{"metadata", J::Obj({{"name", "web-5d9-x"},
                                                                {"namespace", "team-pr-1"}})},
                                           {"status", std::move(status)}})})}})
      .Serialize();
}

class LogCapture final : public util::LogSink {
 public:
  LogCapture() { util::SetLogSink(this); }
  ~LogCapture() override { util::SetLogSink(nullptr); }
  void Write(util::LogLevel level, absl::string_view logger, absl::string_view msg,
             absl::Span<const util::LogField> fields) override {
    absl::MutexLock l(&mu_);
    absl::StrAppend(&text_, util::FormatJsonLine(level, logger, msg, fields, "t"), "\n");
  }
  std::string text() const {
    absl::MutexLock l(&mu_);
    return text_;
  }

 private:
  mutable absl::Mutex mu_;
  std::string text_;
};

// The Environment has an id in the web app, whose secrets it holds.
class ReconcilerRedactionTest : public ReconcilerTest<testing::NiceMock> {
 protected:
  ReconcilerRedactionTest() {
    env_.Annotation(kEnvironmentIdAnnotation, "env-1");
    TeamSecrets t{.environment_id = "env-1",
                  .synced = true,
                  .reason = "Synced",
                  .message = "1 secrets from the web app"};
    t.data = std::vector<std::pair<std::string, std::string>>{
        {"API_KEY", absl::Base64Escape(kTeamSecret)}};
    state_.SetSecrets(kKey, std::move(t));
  }

  // The planner as the cluster answers it (every Deployment but web ready),
  // until it waits for web.
  void ConvergeToDeploying() {
    const Plan last = Converge([](const Action& a) { return a.name != "web"; }, kPassword);
    ASSERT_EQ(last.phase, v1alpha1::Phase::kDeploying);
  }

  // One reconcile with the pods answered by pods; the status patch and the
  // Event message it sent.
  void ReconcileWithPods(const std::string& pods) {
    ON_CALL(*transport_, Send(_)).WillByDefault([this, pods](const kube::HttpRequest& r) {
      if (absl::StrContains(r.path, "/pods?")) return Json(200, pods);
      if (absl::StrContains(r.path, "/replicasets?"))
        return Json(200, R"({"kind":"ReplicaSetList","apiVersion":"apps/v1","items":[]})");
      if (absl::StrContains(r.path, "/status")) status_patch_ = r.body;
      if (absl::StrContains(r.path, "/events")) {
        event_ = *kube::Object::Parse(r.body);
        return Json(201, R"({"metadata":{}})");
      }
      return Json(200, R"({"metadata":{}})");
    });
    ASSERT_TRUE(reconciler_->Reconcile(kKey).status.ok());
  }

  std::string status_patch_;
  kube::Object event_;
};

TEST_F(ReconcilerRedactionTest, CrashTailReachesStatusEventAndLogWithoutTheSecrets) {
  ConvergeToDeploying();
  ASSERT_TRUE(state_.Get(kube::resources::kSecrets, "team-pr-1", "catalyst-secrets"));
  LogCapture log;
  ReconcileWithPods(
      PodList(absl::StrCat("Server starting\nconnecting with password ", kPassword,
                           "\nDATABASE_URL=postgres://admin:", kUrlPassword,
                           "@db.internal:5432/app\nAPI_KEY is ", kTeamSecret, "\nusing ",
                           kGitHubToken, "\nError: Cannot find module 'express'\n"),
              false));
  ASSERT_THAT(status_patch_, HasSubstr("CrashLoopBackOff"));
  const std::string event = std::string(event_.Str({"message"}));
  ASSERT_EQ(event_.Str({"reason"}), "Failed");
  for (const std::string& out : {status_patch_, event, log.text()}) {
    for (const char* secret : {kPassword, kTeamSecret, kUrlPassword, kGitHubToken})
      EXPECT_THAT(out, Not(HasSubstr(secret)));
    // The cause is still named, and where the secrets were is visible.
    EXPECT_THAT(out, HasSubstr("Error: Cannot find module 'express'"));
    EXPECT_THAT(out, HasSubstr("postgres://[redacted]@db.internal:5432/app"));
    EXPECT_THAT(out, HasSubstr("API_KEY is [redacted]"));
  }
}

// A message of server text with no bound (here the scheduler's): the
// condition keeps 32 KiB, the Event and the log line 1 KiB, all cut between
// two characters.
TEST_F(ReconcilerRedactionTest, LongMessagesAreCappedOnACharacter) {
  ConvergeToDeploying();
  std::string huge;
  while (huge.size() < 40 * 1024) huge += "0/1 nodes are available: node(s) had taint ☢. ";
  LogCapture log;
  ReconcileWithPods(PodList(huge, true));
  EXPECT_THAT(log.text(), HasSubstr(" [truncated]\""));
  EXPECT_LT(log.text().size(), 2048u);
  auto patch = kube::Object::Parse(status_patch_);
  ASSERT_TRUE(patch.ok()) << status_patch_.substr(0, 200);
  std::string ready;
  for (const auto& c : patch->Find({"status", "conditions"})->GetArray())
    if (kube::StrOf(kube::Member(c, "type")) == "Ready")
      ready = std::string(kube::StrOf(kube::Member(c, "message")));
  EXPECT_LE(ready.size(), kStatusMessageMax);
  EXPECT_GT(ready.size(), kStatusMessageMax - 16);
  EXPECT_TRUE(absl::EndsWith(ready, " [truncated]")) << ready.substr(ready.size() - 40);
  const std::string event(event_.Str({"message"}));
  EXPECT_LE(event.size(), 1024u);
  EXPECT_GT(event.size(), 1024u - 16);
  EXPECT_TRUE(absl::EndsWith(event, " [truncated]")) << event;
  // Whole characters only: the "☢" (3 bytes) before the marker is complete.
  for (const std::string& m : {ready, event}) {
    const std::string head = m.substr(0, m.size() - strlen(" [truncated]"));
    EXPECT_TRUE(absl::EndsWith(head, "☢") || (static_cast<unsigned char>(head.back()) & 0x80) == 0)
        << head.substr(head.size() - 8);
  }
}

}  // namespace
}  // namespace controllers
