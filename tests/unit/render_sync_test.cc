// RenderSync (controllers/environment/render_sync.h): what it renders, what
// it stores and tells the work queue, what it retries and when, what it drops;
// and the real ChartRenderer's handling of the git token.
#include "controllers/environment/render_sync.h"

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/api_error.h"
#include "support/fake_clock.h"
#include "support/notification.h"

namespace controllers {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kManifests[] = R"(---
# Source: shop/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: shop-config
data:
  color: blue
)";
constexpr char kSha[] = "0123456789abcdef0123456789abcdef01234567";

RenderRequest Request(absl::string_view name, absl::string_view commit = "abc1234") {
  return RenderRequest{.env_key = absl::StrCat("team/", name),
                       .ns = absl::StrCat("team-app-", name),
                       .release = std::string(name),
                       .url = "https://github.com/acme/shop",
                       .branch = "main",
                       .commit = std::string(commit),
                       .chart_path = "deploy/chart",
                       .values_json = R"({"replicas":2})",
                       .installation_id = "42"};
}

// Answers with `answer` (a ConfigMap at kSha unless a test sets it); records
// every request; holds each render while the gate is closed (threaded tests).
class FakeRenderer final : public ChartRenderer {
 public:
  absl::StatusOr<RenderResult> Render(const RenderRequest& request) override {
    std::function<absl::StatusOr<RenderResult>(const RenderRequest&)> answer;
    {
      std::unique_lock l(mu_);
      requests_.push_back(request);
      max_running_ = std::max(max_running_, ++running_);
      cv_.notify_all();
      cv_.wait(l, [this] { return open_; });
      --running_;
      answer = answer_;
    }
    if (answer) return answer(request);
    return RenderResult{.commit = kSha, .manifests = kManifests};
  }

  void Answer(std::function<absl::StatusOr<RenderResult>(const RenderRequest&)> answer) {
    std::lock_guard l(mu_);
    answer_ = std::move(answer);
  }
  void AnswerStatus(absl::Status s) {
    Answer([s](const RenderRequest&) -> absl::StatusOr<RenderResult> { return s; });
  }
  void SetOpen(bool open) {
    {
      std::lock_guard l(mu_);
      open_ = open;
    }
    cv_.notify_all();
  }
  // True once n renders run at the same time (real time, bounded).
  bool WaitRunning(int n) {
    std::unique_lock l(mu_);
    return cv_.wait_for(l, std::chrono::seconds(10), [&] { return running_ >= n; });
  }
  size_t calls() const {
    std::lock_guard l(mu_);
    return requests_.size();
  }
  std::vector<RenderRequest> requests() const {
    std::lock_guard l(mu_);
    return requests_;
  }
  int max_running() const {
    std::lock_guard l(mu_);
    return max_running_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  int running_ = 0, max_running_ = 0;
  std::vector<RenderRequest> requests_;
  std::function<absl::StatusOr<RenderResult>(const RenderRequest&)> answer_;
};

class RenderSyncTest : public ::testing::Test {
 protected:
  RenderSyncOptions Options() {
    return RenderSyncOptions{.renderer = &renderer_,
                             .first_backoff = absl::Seconds(10),
                             .max_backoff = absl::Seconds(40)};
  }

  testing_support::FakeClock clock_;
  FakeRenderer renderer_;
  std::vector<std::string> changed_;
  RenderSync sync_{Options(), &clock_, [this](const std::string& key) { changed_.push_back(key); }};
};

TEST_F(RenderSyncTest, ASuccessStoresTheConfinedObjectsAndTheCommitAndCallsChanged) {
  const RenderRequest a = Request("a");
  const auto added = sync_.AddMark();
  sync_.Want(a);
  EXPECT_EQ(sync_.Get("team/a"), nullptr) << "nothing before a render";
  EXPECT_EQ(renderer_.calls(), 0u) << "Want never renders on the caller's thread";
  sync_.RunOnce();
  ASSERT_EQ(renderer_.calls(), 1u);
  const RenderRequest got = renderer_.requests()[0];
  EXPECT_EQ(got.Digest(), a.Digest());
  EXPECT_EQ(got.env_key, "team/a");
  auto o = sync_.Get("team/a");
  ASSERT_NE(o, nullptr);
  EXPECT_TRUE(o->status.ok()) << o->status;
  EXPECT_EQ(o->digest, a.Digest());
  EXPECT_EQ(o->commit, kSha);
  ASSERT_EQ(o->objects.size(), 1u);
  EXPECT_EQ(o->objects[0].object.Name(), "shop-config");
  EXPECT_EQ(o->objects[0].object.Namespace(), "team-app-a") << "confined to the request's ns";
  EXPECT_FALSE(o->mark->IsSet());
  EXPECT_THAT(changed_, ElementsAre("team/a"));
  EXPECT_TRUE(added->IsSet()) << "the first outcome for a key sets the add mark";
  EXPECT_NE(sync_.AddMark(), added);
  EXPECT_FALSE(sync_.AddMark()->IsSet());
  EXPECT_EQ(sync_.Get("team/b"), nullptr);
}

TEST_F(RenderSyncTest, TheDigestCoversEveryFieldButTheKey) {
  const RenderRequest a = Request("a");
  RenderRequest same = a;
  same.env_key = "elsewhere/a";
  EXPECT_EQ(same.Digest(), a.Digest());
  EXPECT_EQ(a.Digest().size(), 64u);
  for (std::string RenderRequest::*field :
       {&RenderRequest::ns, &RenderRequest::release, &RenderRequest::url, &RenderRequest::branch,
        &RenderRequest::commit, &RenderRequest::chart_path, &RenderRequest::values_json,
        &RenderRequest::installation_id}) {
    RenderRequest b = a;
    b.*field += "x";
    EXPECT_NE(b.Digest(), a.Digest()) << b.*field;
  }
  // A boundary moved between two fields is another request.
  RenderRequest b = a, c = a;
  b.url = "ab", b.branch = "c";
  c.url = "a", c.branch = "bc";
  EXPECT_NE(b.Digest(), c.Digest());
}

TEST_F(RenderSyncTest, TheSameDigestWantedAgainIsNotRenderedAgain) {
  sync_.Want(Request("a"));
  sync_.RunOnce();
  const auto o = sync_.Get("team/a");
  const auto added = sync_.AddMark();
  for (int i = 0; i < 3; ++i) {
    sync_.Want(Request("a"));
    clock_.Advance(absl::Hours(1));
    sync_.RunOnce();
  }
  EXPECT_EQ(renderer_.calls(), 1u);
  EXPECT_EQ(sync_.Get("team/a"), o);
  EXPECT_FALSE(o->mark->IsSet());
  EXPECT_FALSE(added->IsSet());
  EXPECT_THAT(changed_, ElementsAre("team/a"));
}

TEST_F(RenderSyncTest, ANewDigestIsRenderedAndSetsTheReplacedOutcomesMark) {
  sync_.Want(Request("a", "aaaaaaa"));
  sync_.RunOnce();
  const auto old = sync_.Get("team/a");
  const auto added = sync_.AddMark();
  const RenderRequest b = Request("a", "bbbbbbb");
  sync_.Want(b);
  EXPECT_EQ(sync_.Get("team/a"), old) << "the old outcome stays until the new one replaces it";
  EXPECT_FALSE(old->mark->IsSet());
  sync_.RunOnce();
  ASSERT_EQ(renderer_.calls(), 2u);
  EXPECT_EQ(renderer_.requests()[1].commit, "bbbbbbb");
  auto o = sync_.Get("team/a");
  EXPECT_EQ(o->digest, b.Digest());
  EXPECT_TRUE(old->mark->IsSet());
  EXPECT_FALSE(o->mark->IsSet());
  EXPECT_FALSE(added->IsSet()) << "the key had an outcome: not an addition";
  EXPECT_THAT(changed_, ElementsAre("team/a", "team/a"));
}

TEST_F(RenderSyncTest, BackToARequestAnsweredForGoodIsNotRenderedAgain) {
  const RenderRequest a = Request("a", "aaaaaaa");
  sync_.Want(a);
  sync_.RunOnce();
  sync_.Want(Request("a", "bbbbbbb"));  // and back before it was rendered
  sync_.Want(a);
  sync_.RunOnce();
  EXPECT_EQ(renderer_.calls(), 1u);
  EXPECT_EQ(sync_.Get("team/a")->digest, a.Digest());
}

TEST_F(RenderSyncTest, AFinalErrorIsStoredAndNotRetriedUntilANewDigest) {
  const std::vector<absl::Status> finals = {
      absl::InvalidArgumentError("chart: no Chart.yaml in deploy/chart"),
      absl::NotFoundError("clone: commit abc1234 is not in https://github.com/acme/shop"),
      absl::ResourceExhaustedError("size: the checkout is larger than 256 MiB"),
  };
  int commit = 0;
  for (const absl::Status& s : finals) {
    SCOPED_TRACE(s.ToString());
    changed_.clear();
    const size_t before = renderer_.calls();
    renderer_.AnswerStatus(s);
    const RenderRequest r = Request("a", absl::StrCat("abc", ++commit));
    sync_.Want(r);
    sync_.RunOnce();
    auto o = sync_.Get("team/a");
    ASSERT_NE(o, nullptr);
    EXPECT_EQ(o->digest, r.Digest());
    EXPECT_EQ(o->status, s);
    EXPECT_TRUE(o->objects.empty());
    EXPECT_TRUE(o->commit.empty());
    EXPECT_THAT(changed_, ElementsAre("team/a"));
    clock_.Advance(absl::Hours(1));
    sync_.RunOnce();
    sync_.Want(r);
    sync_.RunOnce();
    EXPECT_EQ(renderer_.calls(), before + 1);
    EXPECT_THAT(changed_, ElementsAre("team/a"));
  }
}

TEST_F(RenderSyncTest, AChartConfinementRefusesIsAFinalError) {
  renderer_.Answer([](const RenderRequest&) -> absl::StatusOr<RenderResult> {
    return RenderResult{.commit = kSha,
                        .manifests =
                            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n"
                            "metadata:\n  name: admin-for-all\n"};
  });
  sync_.Want(Request("a"));
  sync_.RunOnce();
  auto o = sync_.Get("team/a");
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(o->status.message(), HasSubstr("ClusterRole"));
  EXPECT_TRUE(o->objects.empty());
  EXPECT_TRUE(o->commit.empty()) << "commit only with objects";
  clock_.Advance(absl::Hours(1));
  sync_.RunOnce();
  EXPECT_EQ(renderer_.calls(), 1u);
}

TEST_F(RenderSyncTest, ATransientErrorIsRetriedWithADoublingBackoffWhileWanted) {
  renderer_.AnswerStatus(absl::UnavailableError("clone: could not resolve host github.com"));
  sync_.Want(Request("a"));
  sync_.RunOnce();
  ASSERT_EQ(renderer_.calls(), 1u);
  auto first = sync_.Get("team/a");
  ASSERT_NE(first, nullptr) << "stored meanwhile, so status can say why";
  EXPECT_EQ(first->status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(changed_, ElementsAre("team/a"));
  // Wanted again meanwhile: the backoff still holds.
  sync_.Want(Request("a"));
  // 10 s, then 20 s, then 40 s (max_backoff), then 40 s again.
  size_t calls = 1;
  for (absl::Duration backoff :
       {absl::Seconds(10), absl::Seconds(20), absl::Seconds(40), absl::Seconds(40)}) {
    SCOPED_TRACE(backoff);
    clock_.Advance(backoff - absl::Seconds(1));
    sync_.RunOnce();
    EXPECT_EQ(renderer_.calls(), calls) << "not due yet";
    clock_.Advance(absl::Seconds(1));
    sync_.RunOnce();
    EXPECT_EQ(renderer_.calls(), ++calls);
  }
  EXPECT_EQ(sync_.Get("team/a"), first) << "the same failure is not stored again";
  EXPECT_FALSE(first->mark->IsSet());
  EXPECT_THAT(changed_, ElementsAre("team/a"));
  // Another failure is (the status says the new reason), then a success.
  renderer_.AnswerStatus(absl::DeadlineExceededError("clone: took longer than 60s"));
  clock_.Advance(absl::Seconds(40));
  sync_.RunOnce();
  EXPECT_TRUE(first->mark->IsSet());
  EXPECT_EQ(sync_.Get("team/a")->status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(changed_, ElementsAre("team/a", "team/a"));
  renderer_.Answer(nullptr);
  clock_.Advance(absl::Seconds(40));
  sync_.RunOnce();
  EXPECT_TRUE(sync_.Get("team/a")->status.ok());
  EXPECT_EQ(sync_.Get("team/a")->objects.size(), 1u);
  EXPECT_EQ(changed_.size(), 3u);
  const size_t done = renderer_.calls();
  clock_.Advance(absl::Hours(1));
  sync_.RunOnce();
  EXPECT_EQ(renderer_.calls(), done) << "a success is final";
}

TEST_F(RenderSyncTest, EveryTransientCodeIsRetriedAndANewDigestResetsTheBackoff) {
  for (absl::StatusCode code :
       {absl::StatusCode::kUnavailable, absl::StatusCode::kDeadlineExceeded,
        absl::StatusCode::kInternal, absl::StatusCode::kFailedPrecondition,
        absl::StatusCode::kPermissionDenied, absl::StatusCode::kUnauthenticated}) {
    SCOPED_TRACE(absl::StatusCodeToString(code));
    EXPECT_TRUE(RenderRetryable(code));
    renderer_.AnswerStatus(absl::Status(code, "refused"));
    const RenderRequest r = Request("a", absl::StatusCodeToString(code));
    const size_t before = renderer_.calls();
    sync_.Want(r);  // a new digest: at once, whatever the last one's backoff
    sync_.RunOnce();
    clock_.Advance(absl::Seconds(10));
    sync_.RunOnce();
    EXPECT_EQ(renderer_.calls(), before + 2);
    EXPECT_EQ(sync_.Get("team/a")->digest, r.Digest());
  }
  for (absl::StatusCode code : {absl::StatusCode::kInvalidArgument, absl::StatusCode::kNotFound,
                                absl::StatusCode::kResourceExhausted})
    EXPECT_FALSE(RenderRetryable(code)) << absl::StatusCodeToString(code);
}

TEST_F(RenderSyncTest, ForgetDropsTheOutcomeAndTheWantedRequest) {
  renderer_.AnswerStatus(absl::UnavailableError("down"));
  sync_.Want(Request("a"));
  sync_.RunOnce();
  const auto o = sync_.Get("team/a");
  ASSERT_NE(o, nullptr);
  sync_.Forget("team/a");
  sync_.Forget("team/never");
  EXPECT_EQ(sync_.Get("team/a"), nullptr);
  EXPECT_TRUE(o->mark->IsSet()) << "a pass that read it is stale";
  clock_.Advance(absl::Hours(1));
  sync_.RunOnce();
  EXPECT_EQ(renderer_.calls(), 1u) << "no longer wanted: no retry";
  EXPECT_THAT(changed_, ElementsAre("team/a")) << "Forget's caller knows: no changed";
  // Wanted again: a request like any new one.
  renderer_.Answer(nullptr);
  const auto added = sync_.AddMark();
  sync_.Want(Request("a"));
  sync_.RunOnce();
  EXPECT_EQ(renderer_.calls(), 2u);
  EXPECT_TRUE(sync_.Get("team/a")->status.ok());
  EXPECT_TRUE(added->IsSet());
}

TEST_F(RenderSyncTest, AnOutcomeOfARequestReplacedWhileItRenderedIsDropped) {
  const RenderRequest b = Request("a", "bbbbbbb");
  renderer_.Answer([&](const RenderRequest& r) -> absl::StatusOr<RenderResult> {
    if (r.commit == "aaaaaaa") sync_.Want(b);  // the planner, while A renders
    return RenderResult{.commit = kSha, .manifests = kManifests};
  });
  sync_.Want(Request("a", "aaaaaaa"));
  sync_.RunOnce();
  EXPECT_EQ(sync_.Get("team/a"), nullptr) << "A's outcome answers nothing wanted";
  EXPECT_THAT(changed_, IsEmpty());
  sync_.RunOnce();  // B is due at once
  ASSERT_EQ(renderer_.calls(), 2u);
  EXPECT_EQ(sync_.Get("team/a")->digest, b.Digest());
  EXPECT_THAT(changed_, ElementsAre("team/a"));
}

TEST_F(RenderSyncTest, AnOutcomeOfARequestForgottenWhileItRenderedIsDropped) {
  renderer_.Answer([&](const RenderRequest&) -> absl::StatusOr<RenderResult> {
    sync_.Forget("team/a");
    return RenderResult{.commit = kSha, .manifests = kManifests};
  });
  sync_.Want(Request("a"));
  sync_.RunOnce();
  EXPECT_EQ(sync_.Get("team/a"), nullptr);
  EXPECT_THAT(changed_, IsEmpty());
}

// The threaded tests: real threads, each wait bounded in real time.
class RenderSyncThreadsTest : public ::testing::Test {
 protected:
  void Changed(const std::string& key) {
    {
      std::lock_guard l(mu_);
      changed_.push_back(key);
    }
    cv_.notify_all();
  }
  bool WaitChanged(size_t n) {
    std::unique_lock l(mu_);
    return cv_.wait_for(l, std::chrono::seconds(10), [&] { return changed_.size() >= n; });
  }

  testing_support::FakeClock clock_;
  FakeRenderer renderer_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> changed_;
};

TEST_F(RenderSyncThreadsTest, StartedItRendersAWantedRequestOnItsOwnThread) {
  RenderSync sync(RenderSyncOptions{.renderer = &renderer_}, &clock_,
                  [this](const std::string& key) { Changed(key); });
  sync.Want(Request("early"));  // before Start: rendered once started
  sync.Start();
  sync.Want(Request("a"));
  ASSERT_TRUE(WaitChanged(2));
  EXPECT_TRUE(sync.Get("team/a")->status.ok());
  EXPECT_TRUE(sync.Get("team/early")->status.ok());
  sync.Stop();
  sync.Stop();  // idempotent
  EXPECT_EQ(renderer_.calls(), 2u);
}

TEST_F(RenderSyncThreadsTest, NoMoreRendersRunAtOnceThanConcurrency) {
  RenderSync sync(RenderSyncOptions{.renderer = &renderer_, .concurrency = 2}, &clock_,
                  [this](const std::string& key) { Changed(key); });
  renderer_.SetOpen(false);
  sync.Start();
  for (int i = 0; i < 6; ++i) sync.Want(Request(absl::StrCat("env-", i)));
  ASSERT_TRUE(renderer_.WaitRunning(2));
  renderer_.SetOpen(true);
  ASSERT_TRUE(WaitChanged(6));
  sync.Stop();
  EXPECT_EQ(renderer_.max_running(), 2);
  EXPECT_EQ(renderer_.calls(), 6u);
}

TEST_F(RenderSyncThreadsTest, ANewerRequestWaitsForTheOlderRenderAndOnlyItsOutcomeIsStored) {
  RenderSync sync(RenderSyncOptions{.renderer = &renderer_, .concurrency = 2}, &clock_,
                  [this](const std::string& key) { Changed(key); });
  renderer_.SetOpen(false);
  sync.Start();
  sync.Want(Request("a", "aaaaaaa"));
  ASSERT_TRUE(renderer_.WaitRunning(1));
  const RenderRequest b = Request("a", "bbbbbbb");
  sync.Want(b);  // a thread is free, but one render per Environment at a time
  renderer_.SetOpen(true);
  ASSERT_TRUE(WaitChanged(1));
  sync.Stop();
  EXPECT_EQ(renderer_.max_running(), 1);
  ASSERT_EQ(renderer_.calls(), 2u);
  EXPECT_EQ(renderer_.requests()[1].commit, "bbbbbbb");
  EXPECT_EQ(sync.Get("team/a")->digest, b.Digest());
  EXPECT_THAT(changed_, ElementsAre("team/a")) << "A's outcome answered nothing wanted";
}

TEST_F(RenderSyncThreadsTest, StopWaitsForTheRenderInFlight) {
  RenderSync sync(RenderSyncOptions{.renderer = &renderer_}, &clock_,
                  [this](const std::string& key) { Changed(key); });
  renderer_.SetOpen(false);
  sync.Start();
  sync.Want(Request("a"));
  ASSERT_TRUE(renderer_.WaitRunning(1));
  testing_support::Notification stopping;
  std::thread stopper([&] {
    stopping.Notify();
    sync.Stop();
  });
  ASSERT_TRUE(stopping.WaitForNotificationWithTimeout(absl::Seconds(10)));
  renderer_.SetOpen(true);
  stopper.join();
  // Stop returned only after the render did: its outcome is stored.
  ASSERT_NE(sync.Get("team/a"), nullptr);
  EXPECT_TRUE(sync.Get("team/a")->status.ok());
}

// The real renderer up to RenderChart (which refuses file:// here, before
// running anything): what it asks for the token and what it makes of a refusal.
class ChartRendererTest : public ::testing::Test {
 protected:
  RenderRequest FileRequest(absl::string_view installation_id) {
    RenderRequest r = Request("a");
    r.url = "file:///nonexistent";
    r.installation_id = std::string(installation_id);
    return r;
  }
  std::unique_ptr<ChartRenderer> Renderer(absl::StatusOr<std::string> token) {
    return NewChartRenderer(RenderOptions{},
                            [this, token](const std::string& ns, const std::string& id) {
                              asked_.push_back(absl::StrCat(ns, " ", id));
                              return token;
                            });
  }
  std::vector<std::string> asked_;
};

TEST_F(ChartRendererTest, AnAnonymousCloneAsksForNoToken) {
  auto r = Renderer(absl::InternalError("not to be asked"))->Render(FileRequest(""));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("file:// is not allowed"));
  EXPECT_THAT(asked_, IsEmpty());
}

TEST_F(ChartRendererTest, TheTokenIsAskedForTheRequestsNamespaceAndInstallation) {
  auto r = Renderer(std::string("ghs_token"))->Render(FileRequest("42"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << "then RenderChart";
  EXPECT_THAT(asked_, ElementsAre("team-app-a 42"));
  EXPECT_THAT(r.status().message(), Not(HasSubstr("ghs_token")));
}

TEST_F(ChartRendererTest, AMintTheApiServerAnsweredNotFoundOrBusyIsRetriedAWebApp404IsNot) {
  const absl::Status missing_sa = kube::MakeApiError(
      {.code = 404, .reason = "NotFound", .message = "serviceaccounts \"default\" not found"});
  auto r = Renderer(missing_sa)->Render(FileRequest("42"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(r.status().message(), missing_sa.message());
  EXPECT_TRUE(kube::apierrors::IsNotFound(r.status())) << "the API error is kept";
  const absl::Status busy = kube::MakeApiError({.code = 429, .reason = "TooManyRequests"});
  EXPECT_EQ(Renderer(busy)->Render(FileRequest("42")).status().code(),
            absl::StatusCode::kUnavailable);
  const absl::Status no_installation =
      absl::NotFoundError("git token for installation 42: the Catalyst web app knows none");
  EXPECT_EQ(Renderer(no_installation)->Render(FileRequest("42")).status(), no_installation);
  const absl::Status refused = absl::PermissionDeniedError("git token for installation 42: no");
  EXPECT_EQ(Renderer(refused)->Render(FileRequest("42")).status(), refused);
}

TEST_F(ChartRendererTest, NoWayToAskForATokenIsAFailedPrecondition) {
  auto r = NewChartRenderer(RenderOptions{}, nullptr)->Render(FileRequest("42"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(RenderRetryable(r.status().code())) << "the operator's installation: retried";
}

}  // namespace
}  // namespace controllers
