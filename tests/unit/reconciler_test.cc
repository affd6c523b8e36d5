// The reconciler's failure diagnosis as it leaves the operator: what a
// crashing container printed reaches the Environment's status, its Event and
// the operator's log redacted of the Environment's secrets (redact.h), and
// capped (32 KiB a condition message, 1 KiB an Event message).
#include "controllers/environment/reconciler.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "controllers/environment/planner.h"
#include "controllers/environment/redact.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "informer/store.h"
#include "kube/json_builder.h"
#include "support/fake_clock.h"
#include "support/mock_transport.h"
#include "util/log.h"

namespace controllers {
namespace {

using ::testing::_;
using ::testing::HasSubstr;
using ::testing::Not;
using testing_support::Json;

constexpr char kKey[] = "team/pr-1";
constexpr char kPassword[] = "0123456789abcdef0123456789abcdef";
constexpr char kTeamSecret[] = "sk-live-team-secret-42";
constexpr char kUrlPassword[] = "url-pw-9876";
constexpr char kGitHubToken[] = "ghp_aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6";

// The informers' caches, and what the web app last answered for the
// Environment's secrets.
class FakeState final : public ClusterState {
 public:
  std::optional<kube::Object> Get(const kube::Resource& res, absl::string_view ns,
                                  absl::string_view name) const override {
    auto it = stores_.find(std::string(res.plural));
    if (it == stores_.end()) return std::nullopt;
    return it->second.Get(ns.empty() ? std::string(name) : absl::StrCat(ns, "/", name));
  }
  std::vector<kube::Object> Owned(const kube::Resource& res, absl::string_view uid) const override {
    std::vector<kube::Object> out;
    auto it = stores_.find(std::string(res.plural));
    if (it != stores_.end())
      for (kube::Object& o : it->second.List())
        if (o.Label("catalyst.dev/environment-uid") == uid) out.push_back(std::move(o));
    return out;
  }
  std::optional<TeamSecrets> Secrets(const std::string& key) const override {
    if (key != kKey) return std::nullopt;
    TeamSecrets t;
    t.environment_id = "env-1";
    t.synced = true;
    t.reason = "Synced";
    t.message = "1 secrets from the web app";
    t.data = {{"API_KEY", absl::Base64Escape(kTeamSecret)}};
    return t;
  }
  void Put(const kube::Resource& res, const kube::Object& o) {
    stores_.try_emplace(std::string(res.plural)).first->second.Upsert(o);
  }

 private:
  mutable std::map<std::string, informer::Store> stores_;
};

std::string EnvJson(int rv, absl::string_view status) {
  return absl::StrCat(
      R"({"apiVersion":"catalyst.catalyst.dev/v1alpha1","kind":"Environment","metadata":{)",
      R"("name":"pr-1","namespace":"team","uid":"u-1","generation":1,"resourceVersion":")", rv,
      R"(","annotations":{"catalyst.dev/environment-id":"env-1"},)",
      R"("finalizers":["catalyst.dev/finalizer"]},"spec":{"type":"development",)",
      R"("projectRef":{"name":"p"},"sources":[{"name":"web",)",
      R"("repositoryUrl":"https://github.com/org/repo","branch":"main"}]})",
      status.empty() ? "" : absl::StrCat(R"(,"status":)", status), "}");
}

// As the API server stores a manifest; every Deployment but web is ready.
kube::Object Stored(const Action& a, int rv) {
  std::string json = a.body.Serialize();
  const std::string meta = "\"metadata\":{";
  json.insert(json.find(meta) + meta.size(),
              absl::StrCat(R"("resourceVersion":")", rv, R"(","generation":1,)"));
  if (a.resource.plural == "deployments")
    json.insert(json.size() - 1, a.name != "web"
                                     ? R"(,"status":{"observedGeneration":1,"readyReplicas":1,)"
                                       R"("updatedReplicas":1})"
                                     : R"(,"status":{"observedGeneration":1})");
  return *kube::Object::Parse(json);
}

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

class ReconcilerRedactionTest : public ::testing::Test {
 protected:
  ReconcilerRedactionTest() {
    auto t = std::make_unique<testing::NiceMock<testing_support::MockTransport>>();
    transport_ = t.get();
    client_ = std::make_unique<kube::Client>(
        std::move(t), kube::ClientOptions{.max_attempts = 1, .clock = &clock_});
    reconciler_ =
        std::make_unique<EnvironmentReconciler>(client_.get(), &envs_, &state_, config_, &clock_);
  }

  // The planner as the cluster answers it, until it waits for web.
  void ConvergeToDeploying() {
    for (int pass = 0; pass < 10; ++pass) {
      envs_.Upsert(*kube::Object::Parse(EnvJson(++rv_, status_)));
      Plan plan =
          PlanEnvironment({*envs_.Get(kKey), state_, config_, clock_.Now(), nullptr, kPassword});
      if (plan.actions.empty() && !plan.status_patch) {
        ASSERT_EQ(plan.phase, v1alpha1::Phase::kDeploying);
        return;
      }
      for (const auto& a : plan.actions)
        if (a.type == Action::Type::kApply || a.type == Action::Type::kCreate)
          state_.Put(a.resource, Stored(a, ++rv_));
      if (plan.status_patch) {
        const std::string& p = *plan.status_patch;
        status_ = p.substr(strlen(R"({"status":)"), p.size() - strlen(R"({"status":)") - 1);
      }
    }
    FAIL() << "did not converge";
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

  testing_support::FakeClock clock_;
  OperatorConfig config_;
  informer::Store envs_;
  FakeState state_;
  testing::NiceMock<testing_support::MockTransport>* transport_ = nullptr;
  std::unique_ptr<kube::Client> client_;
  std::unique_ptr<EnvironmentReconciler> reconciler_;
  std::string status_;
  int rv_ = 10;
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
