// SecretsSync (controllers/environment/secrets_sync.h): what it asks the web
// app, what it makes of each answer, when it asks again, and what it forgets.
#include "controllers/environment/secrets_sync.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/environment_fixture.h"
#include "support/fake_clock.h"
#include "support/mock_transport.h"

namespace controllers {
namespace {

using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Return;
using testing_support::Json;

// Environment team/<name> at resourceVersion rv, with the web app's id ("": none).
kube::Object Env(absl::string_view name, absl::string_view id, int rv = 1) {
  testing_support::EnvironmentBuilder env;
  env.Name(std::string(name)).ResourceVersion(rv);
  if (!id.empty()) env.Annotation(kEnvironmentIdAnnotation, std::string(id));
  return env.Build();
}

class SecretsSyncTest : public ::testing::Test {
 protected:
  SecretsSyncTest()
      : sync_(&envs_,
              SecretsSyncOptions{.web_url = "http://web.catalyst.svc:3000/app", .web = &web_},
              &clock_, [this](const std::string& key) { changed_.push_back(key); }) {}

  // What the web app answers to the next request.
  void Answers(absl::StatusOr<kube::HttpResponse> r) {
    EXPECT_CALL(web_, Send(Field(&kube::HttpRequest::path, "/app/api/internal/secrets/env-1")))
        .WillOnce(Return(std::move(r)));
  }

  informer::Store envs_;
  testing_support::FakeClock clock_;
  testing::StrictMock<testing_support::MockTransport> web_;
  std::vector<std::string> changed_;
  SecretsSync sync_;
};

TEST_F(SecretsSyncTest, AnAnnotatedEnvironmentGetsItsSecretsAndOthersAreNotAsked) {
  envs_.Upsert(Env("a", "env-1"));
  envs_.Upsert(Env("b", ""));  // a PR preview: no id, nothing to ask
  Answers(Json(200, R"({"secrets":{"API_KEY":"s3cret","DATABASE_URL":"postgres://x"}})"));
  sync_.RunOnce();
  auto t = sync_.Get("team/a");
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->synced);
  EXPECT_EQ(t->reason, "Synced");
  EXPECT_EQ(t->environment_id, "env-1");
  ASSERT_TRUE(t->data);
  EXPECT_EQ(*t->data, (std::vector<std::pair<std::string, std::string>>{
                          {"API_KEY", "czNjcmV0"}, {"DATABASE_URL", "cG9zdGdyZXM6Ly94"}}));
  EXPECT_THAT(t->message, Not(HasSubstr("s3cret")));
  EXPECT_EQ(changed_, std::vector<std::string>{"team/a"});
  EXPECT_FALSE(sync_.Get("team/b"));
  // Not due again before the refresh period (5 min, ±10 %).
  clock_.Advance(absl::Minutes(4));
  sync_.RunOnce();
  // Due then; the same answer changes nothing (no new mark, no requeue).
  const auto mark = t->mark;
  clock_.Advance(absl::Seconds(91));
  Answers(Json(200, R"({"secrets":{"API_KEY":"s3cret","DATABASE_URL":"postgres://x"}})"));
  sync_.RunOnce();
  EXPECT_FALSE(mark->IsSet());
  EXPECT_EQ(changed_.size(), 1u);
}

TEST_F(SecretsSyncTest, AFailureKeepsTheLastGoodDataAndBacksOff) {
  envs_.Upsert(Env("a", "env-1"));
  Answers(Json(200, R"({"secrets":{"K":"v"}})"));
  sync_.RunOnce();
  const auto good = sync_.Get("team/a");
  clock_.Advance(absl::Minutes(6));
  Answers(absl::UnavailableError("connection refused"));
  sync_.RunOnce();
  auto t = sync_.Get("team/a");
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->synced);
  EXPECT_EQ(t->reason, "WebAppUnreachable");
  EXPECT_THAT(t->message, HasSubstr("connection refused"));
  EXPECT_EQ(t->data, good->data) << "the last good answer stays";
  EXPECT_TRUE(good->mark->IsSet()) << "a changed outcome replaces the mark";
  // Backoff: 5 s, then 10 s.
  clock_.Advance(absl::Seconds(4));
  sync_.RunOnce();  // not due: StrictMock
  clock_.Advance(absl::Seconds(1));
  Answers(Json(500, "oops"));
  sync_.RunOnce();
  EXPECT_EQ(sync_.Get("team/a")->reason, "HTTPError");
  clock_.Advance(absl::Seconds(9));
  sync_.RunOnce();  // not due
  clock_.Advance(absl::Seconds(1));
  Answers(Json(200, R"({"secrets":{"K":"v2"}})"));
  sync_.RunOnce();
  EXPECT_TRUE(sync_.Get("team/a")->synced);
}

TEST_F(SecretsSyncTest, EachRefusalIsNamed) {
  envs_.Upsert(Env("a", "env-1"));
  const std::vector<std::pair<kube::HttpResponse, std::string>> cases = {
      {Json(401, "{}"), "Unauthorized"},
      {Json(404, R"({"error":"Environment not found"})"), "NotFound"},
      {Json(200, std::string(size_t{1} << 21, ' ')), "InvalidAnswer"},
      {Json(200, R"({"secrets":{"K":1}})"), "InvalidAnswer"},
      {Json(200, R"({"secrets":{"bad key":"v"}})"), "InvalidAnswer"},
      {Json(200, "not json"), "InvalidAnswer"},
  };
  for (const auto& [answer, reason] : cases) {
    clock_.Advance(absl::Minutes(10));
    Answers(answer);
    sync_.RunOnce();
    auto t = sync_.Get("team/a");
    ASSERT_TRUE(t);
    EXPECT_FALSE(t->synced);
    EXPECT_EQ(t->reason, reason) << answer.body.substr(0, 40);
  }
}

TEST_F(SecretsSyncTest, ANewIdIsAskedAtOnceAndARemovedOneIsForgotten) {
  envs_.Upsert(Env("a", "env-1"));
  Answers(Json(200, R"({"secrets":{"K":"v"}})"));
  sync_.RunOnce();
  const auto first = sync_.Get("team/a");
  // The web app sets another id: asked at once, not at the next refresh.
  envs_.Upsert(Env("a", "env-2", 2));
  EXPECT_CALL(web_, Send(Field(&kube::HttpRequest::path, "/app/api/internal/secrets/env-2")))
      .WillOnce(Return(Json(200, R"({"secrets":{}})")));
  sync_.RunOnce();
  EXPECT_TRUE(first->mark->IsSet());
  EXPECT_EQ(sync_.Get("team/a")->environment_id, "env-2");
  // The annotation goes: forgotten, and the Environment queued (its Secret is pruned).
  changed_.clear();
  envs_.Upsert(Env("a", "", 3));
  sync_.RunOnce();
  EXPECT_FALSE(sync_.Get("team/a"));
  EXPECT_EQ(changed_, std::vector<std::string>{"team/a"});
}

TEST_F(SecretsSyncTest, AnIdIsEscapedInThePath) {
  envs_.Upsert(Env("a", "../x y"));
  EXPECT_CALL(web_, Send(Field(&kube::HttpRequest::path, "/app/api/internal/secrets/..%2Fx%20y")))
      .WillOnce(Return(Json(404, "{}")));
  sync_.RunOnce();
  EXPECT_EQ(sync_.Get("team/a")->reason, "NotFound");
}

// A slow web app never holds anyone else up: the fetches run on SecretsSync's
// own threads, and Get answers while a request hangs.
TEST_F(SecretsSyncTest, AHangingRequestBlocksNoReader) {
  envs_.Upsert(Env("a", "env-1"));
  std::mutex mu;
  std::condition_variable cv;
  bool release = false, asked = false;
  EXPECT_CALL(web_, Send(testing::_)).WillRepeatedly([&](const kube::HttpRequest&) {
    std::unique_lock<std::mutex> l(mu);
    asked = true;
    cv.notify_all();
    cv.wait(l, [&] { return release; });
    return absl::StatusOr<kube::HttpResponse>(Json(200, R"({"secrets":{}})"));
  });
  sync_.Start();
  {
    std::unique_lock<std::mutex> l(mu);
    ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(10), [&] { return asked; }));
  }
  EXPECT_FALSE(sync_.Get("team/a"));  // answers at once, while the request hangs
  {
    std::lock_guard<std::mutex> l(mu);
    release = true;
  }
  cv.notify_all();
  sync_.Stop();
}

}  // namespace
}  // namespace controllers
