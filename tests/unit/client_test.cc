#include "kube/client.h"

#include "api/v1alpha1/resources.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/api_error.h"
#include "ops/metrics.h"
#include "support/fake_clock.h"
#include "support/log_capture.h"
#include "support/mock_transport.h"

namespace kube {
namespace {

using ::testing::_;
using ::testing::AllOf;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::Invoke;
using ::testing::Not;
using ::testing::Return;
using testing_support::Json;

class CountingToken : public TokenSource {
 public:
  absl::StatusOr<std::string> Token() override { return "t"; }
  void Invalidate() override { ++invalidated; }
  int invalidated = 0;
};

class RecordingObserver : public RequestObserver {
 public:
  void Observe(absl::string_view verb, absl::string_view method, absl::string_view code,
               absl::Duration) override {
    seen.push_back(std::string(verb) + " " + std::string(method) + " " + std::string(code));
  }
  void ObserveRateLimiterWait(absl::string_view method, absl::Duration waited) override {
    waits.push_back(std::string(method) + " " + absl::FormatDuration(waited));
  }
  std::vector<std::string> seen;
  std::vector<std::string> waits;
};

// An answer of a server running API Priority and Fairness: it names the
// FlowSchema and PriorityLevel that classified the request.
HttpResponse Apf(HttpResponse r) {
  r.flow_schema_uid = "1235eba8-ddfc-40f6-bea6-eae7f388994a";
  r.priority_level_uid = "00e511cd-4f12-4f98-b58f-a1ce1015779c";
  return r;
}

class ClientTest : public ::testing::Test {
 protected:
  ClientTest() {
    auto t = std::make_unique<testing_support::MockTransport>();
    transport_ = t.get();
    token_ = std::make_shared<CountingToken>();
    client_ = std::make_unique<Client>(
        std::move(t),
        ClientOptions{
            .max_attempts = 3, .clock = &clock_, .token = token_, .observer = &observer_});
  }
  testing_support::FakeClock clock_;
  testing_support::MockTransport* transport_;
  std::shared_ptr<CountingToken> token_;
  RecordingObserver observer_;
  std::unique_ptr<Client> client_;
};

TEST_F(ClientTest, GetBuildsPathAndDecodes) {
  EXPECT_CALL(*transport_,
              Send(AllOf(Field(&HttpRequest::method, "GET"),
                         Field(&HttpRequest::path, "/apis/apps/v1/namespaces/ns/deployments/web"))))
      .WillOnce(Return(Json(
          200,
          R"({"kind":"Deployment","metadata":{"name":"web","namespace":"ns"},"status":{"readyReplicas":1}})")));
  auto obj = client_->Get(resources::kDeployments, "ns", "web");
  ASSERT_TRUE(obj.ok()) << obj.status();
  EXPECT_EQ(obj->Name(), "web");
  EXPECT_EQ(obj->Int({"status", "readyReplicas"}), 1);
  EXPECT_THAT(observer_.seen, ::testing::ElementsAre("GET GET 200"));
}

TEST_F(ClientTest, PathsForCoreClusterScopedAndSubresources) {
  EXPECT_EQ(resources::kNamespaces.Path("ignored", "x"), "/api/v1/namespaces/x");
  EXPECT_EQ(resources::kPods.Path(), "/api/v1/pods");
  EXPECT_EQ(v1alpha1::kEnvironments.Path("team", "pr-1", "status"),
            "/apis/catalyst.catalyst.dev/v1alpha1/namespaces/team/environments/pr-1/status");
}

TEST_F(ClientTest, ListSendsOptionsAndFillsKinds) {
  EXPECT_CALL(*transport_,
              Send(Field(&HttpRequest::path,
                         "/api/v1/namespaces/ns/"
                         "pods?labelSelector=app%3Dweb%2Ctier%21%3Ddb&limit=2&continue=abc")))
      .WillOnce(Return(Json(
          200,
          R"({"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"77","continue":"next"},"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]})")));
  auto list =
      client_->List(resources::kPods, "ns",
                    {.label_selector = "app=web,tier!=db", .limit = 2, .continue_token = "abc"});
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->resource_version, "77");
  EXPECT_EQ(list->continue_token, "next");
  ASSERT_EQ(list->items.size(), 2u);
  EXPECT_EQ(list->items[1].Name(), "b");
  EXPECT_EQ(list->items[1].Kind(), "Pod");
  EXPECT_EQ(list->items[1].ApiVersion(), "v1");
}

TEST_F(ClientTest, IdempotentVerbsRetryServerErrorsWithBackoff) {
  EXPECT_CALL(*transport_, Send(_))
      .WillOnce(Return(absl::StatusOr<HttpResponse>(TransportError("connection refused"))))
      .WillOnce(Return(Json(503, "")))
      .WillOnce(Return(Json(200, R"({"metadata":{"name":"x"}})")));
  auto obj = client_->Get(resources::kPods, "ns", "x");
  ASSERT_TRUE(obj.ok()) << obj.status();
  EXPECT_GT(clock_.slept(), absl::ZeroDuration());
  EXPECT_THAT(observer_.seen,
              ::testing::ElementsAre("GET GET <error>", "GET GET 503", "GET GET 200"));
}

TEST_F(ClientTest, GivesUpAfterMaxAttempts) {
  EXPECT_CALL(*transport_, Send(_)).Times(3).WillRepeatedly(Return(Json(500, "")));
  auto obj = client_->Get(resources::kPods, "ns", "x");
  EXPECT_EQ(obj.status().code(), absl::StatusCode::kInternal);
}

TEST_F(ClientTest, RetryAfterIsHonoured) {
  EXPECT_CALL(*transport_, Send(_))
      .WillOnce(
          Return(Json(429, R"({"kind":"Status","reason":"TooManyRequests","code":429})", "7")))
      .WillOnce(Return(Json(200, R"({"metadata":{"name":"x"}})")));
  ASSERT_TRUE(client_->Get(resources::kPods, "ns", "x").ok());
  EXPECT_EQ(clock_.slept(), absl::Seconds(7));
}

TEST_F(ClientTest, CreateIsNotResentAfterA5xxButIsAfterA429) {
  EXPECT_CALL(*transport_, Send(Field(&HttpRequest::method, "POST")))
      .WillOnce(Return(Json(503, "")));
  EXPECT_EQ(client_->Create(resources::kPods, "ns", "{}").status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_CALL(*transport_, Send(Field(&HttpRequest::method, "POST")))
      .WillOnce(Return(Json(429, "")))
      .WillOnce(Return(Json(201, R"({"metadata":{"name":"p"}})")));
  EXPECT_TRUE(client_->Create(resources::kPods, "ns", "{}").ok());
}

// A restarting API server answers 503 "server is starting" with Retry-After:
// not processed, so a create is sent again after the wait (client-go too).
TEST_F(ClientTest, CreateIsResentAfterA5xxWithRetryAfter) {
  EXPECT_CALL(*transport_, Send(Field(&HttpRequest::method, "POST")))
      .WillOnce(
          Return(Json(503, R"({"kind":"Status","reason":"ServiceUnavailable","code":503})", "1")))
      .WillOnce(Return(Json(201, R"({"metadata":{"name":"p"}})")));
  EXPECT_TRUE(client_->Create(resources::kPods, "ns", "{}").ok());
  EXPECT_EQ(clock_.slept(), absl::Seconds(1));
}

// A pooled connection the restarted server had closed: the request never got
// there, so a create is sent again; a failure after sending is not.
TEST_F(ClientTest, CreateIsResentWhenItWasNotSentOnly) {
  EXPECT_CALL(*transport_, Send(Field(&HttpRequest::method, "POST")))
      .WillOnce(Return(absl::StatusOr<HttpResponse>(
          NotSentError("POST /api/v1/namespaces/ns/pods: Failed to write request body"))))
      .WillOnce(Return(Json(201, R"({"metadata":{"name":"p"}})")));
  EXPECT_TRUE(client_->Create(resources::kPods, "ns", "{}").ok());
  EXPECT_CALL(*transport_, Send(Field(&HttpRequest::method, "POST")))
      .WillOnce(Return(absl::StatusOr<HttpResponse>(
          TransportError("POST /api/v1/namespaces/ns/pods: Failed to read HTTP status line"))));
  EXPECT_EQ(client_->Create(resources::kPods, "ns", "{}").status().code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(ClientTest, UnauthorizedRereadsTheTokenOnce) {
  EXPECT_CALL(*transport_, Send(_))
      .WillOnce(Return(Json(401, "")))
      .WillOnce(Return(Json(200, R"({"metadata":{"name":"x"}})")));
  EXPECT_TRUE(client_->Get(resources::kPods, "ns", "x").ok());
  EXPECT_EQ(token_->invalidated, 1);
  EXPECT_CALL(*transport_, Send(_)).Times(2).WillRepeatedly(Return(Json(401, "")));
  EXPECT_TRUE(apierrors::IsUnauthorized(client_->Get(resources::kPods, "ns", "x").status()));
  EXPECT_EQ(token_->invalidated, 2);
}

TEST_F(ClientTest, ErrorsAreTyped) {
  EXPECT_CALL(*transport_, Send(_))
      .WillOnce(Return(Json(404, R"({"kind":"Status","reason":"NotFound","code":404})")))
      .WillOnce(Return(Json(409, R"({"kind":"Status","reason":"Conflict","code":409})")))
      .WillOnce(Return(Json(403, R"({"kind":"Status","reason":"Forbidden","code":403})")));
  EXPECT_TRUE(apierrors::IsNotFound(client_->Get(resources::kPods, "ns", "x").status()));
  EXPECT_TRUE(apierrors::IsConflict(client_->Update(resources::kPods, "ns", "x", "{}").status()));
  EXPECT_TRUE(apierrors::IsForbidden(client_->Delete(resources::kPods, "ns", "x")));
}

TEST_F(ClientTest, UnexpectedContentTypeIsAnError) {
  EXPECT_CALL(*transport_, Send(_))
      .WillOnce(Return(HttpResponse{.status = 200, .content_type = "text/html", .body = "<html>"}));
  auto obj = client_->Get(resources::kPods, "ns", "x");
  EXPECT_THAT(std::string(obj.status().message()), HasSubstr("unexpected content type"));
}

TEST_F(ClientTest, PatchTypesAndApply) {
  EXPECT_CALL(
      *transport_,
      Send(
          AllOf(Field(&HttpRequest::method, "PATCH"),
                Field(&HttpRequest::content_type, "application/apply-patch+yaml"),
                Field(&HttpRequest::path,
                      "/api/v1/namespaces/ns/configmaps/c?fieldManager=kube-operator&force=true"))))
      .WillOnce(Return(Json(200, R"({"metadata":{"name":"c"}})")));
  EXPECT_TRUE(client_
                  ->Patch(resources::kConfigMaps, "ns", "c", PatchType::kApply, "{}",
                          {.field_manager = "kube-operator", .force = true})
                  .ok());
  EXPECT_FALSE(client_->Patch(resources::kConfigMaps, "ns", "c", PatchType::kApply, "{}").ok());
  EXPECT_CALL(
      *transport_,
      Send(
          AllOf(Field(&HttpRequest::content_type, "application/merge-patch+json"),
                Field(&HttpRequest::path,
                      "/apis/catalyst.catalyst.dev/v1alpha1/namespaces/ns/environments/e/status"))))
      .WillOnce(Return(Json(200, R"({"metadata":{"name":"e"}})")));
  EXPECT_TRUE(client_
                  ->Patch(v1alpha1::kEnvironments, "ns", "e", PatchType::kMerge, R"({"status":{}})",
                          {}, "status")
                  .ok());
  // A JSON patch is not resent: it may not be idempotent.
  EXPECT_CALL(*transport_, Send(Field(&HttpRequest::content_type, "application/json-patch+json")))
      .WillOnce(Return(Json(503, "")));
  EXPECT_FALSE(client_->Patch(resources::kPods, "ns", "p", PatchType::kJson, "[]").ok());
}

TEST_F(ClientTest, DeleteCarriesPolicyAndPreconditions) {
  EXPECT_CALL(
      *transport_,
      Send(AllOf(
          Field(&HttpRequest::method, "DELETE"),
          Field(
              &HttpRequest::body,
              R"({"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Foreground","gracePeriodSeconds":0,"preconditions":{"uid":"u1","resourceVersion":"9"}})"))))
      .WillOnce(Return(Json(200, "{}")));
  EXPECT_TRUE(client_
                  ->Delete(resources::kNamespaces, "", "x",
                           {.propagation_policy = "Foreground",
                            .precondition_uid = "u1",
                            .precondition_resource_version = "9",
                            .grace_period_seconds = 0})
                  .ok());
}

// The API server's answer to a TokenRequest, carrying token.
HttpResponse TokenAnswer(const std::string& token) {
  return Json(201,
              R"({"kind":"TokenRequest","apiVersion":"authentication.k8s.io/v1",)"
              R"("spec":{"audiences":["https://kubernetes.default.svc"],"expirationSeconds":600},)"
              R"("status":{"token":")" +
                  token + R"(","expirationTimestamp":"2030-01-01T00:10:00Z"}})");
}

constexpr char kMinted[] = "eyJhbGciOiJSUzI1NiJ9.minted-sa-token.sig";

TEST_F(ClientTest, CreateTokenPostsATokenRequestToTheServiceAccountsSubresource) {
  EXPECT_CALL(
      *transport_,
      Send(AllOf(
          Field(&HttpRequest::method, "POST"),
          Field(&HttpRequest::path, "/api/v1/namespaces/team-dev/serviceaccounts/default/token"),
          Field(&HttpRequest::content_type, "application/json"),
          Field(
              &HttpRequest::body,
              R"({"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":600}})"))))
      .WillOnce(Return(TokenAnswer(kMinted)));
  auto token = client_->CreateToken("team-dev", "default", {.expiration_seconds = 600});
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(*token, kMinted);
  EXPECT_THAT(observer_.seen, ::testing::ElementsAre("POST POST 201"));
}

TEST_F(ClientTest, CreateTokenLeavesUnsetOptionsToTheServer) {
  EXPECT_CALL(
      *transport_,
      Send(Field(&HttpRequest::body,
                 R"({"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{}})")))
      .WillOnce(Return(TokenAnswer(kMinted)));
  EXPECT_TRUE(client_->CreateToken("ns", "default").ok());
  EXPECT_CALL(
      *transport_,
      Send(Field(
          &HttpRequest::body,
          R"({"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":3600,"audiences":["vault","https://x"]}})")))
      .WillOnce(Return(TokenAnswer(kMinted)));
  EXPECT_TRUE(client_
                  ->CreateToken("ns", "default",
                                {.expiration_seconds = 3600, .audiences = {"vault", "https://x"}})
                  .ok());
}

TEST_F(ClientTest, CreateTokenErrorsAreTypedAndCarryNoToken) {
  EXPECT_CALL(*transport_, Send(_))
      .WillOnce(Return(Json(
          404,
          R"({"kind":"Status","reason":"NotFound","code":404,"message":"serviceaccounts \"default\" not found"})")))
      .WillOnce(Return(Json(
          403,
          R"({"kind":"Status","reason":"Forbidden","code":403,"message":"cannot create resource \"serviceaccounts/token\""})")))
      // An answer without a token, and one that is not JSON.
      .WillOnce(Return(Json(201, R"({"kind":"TokenRequest","status":{}})")))
      .WillOnce(Return(HttpResponse{.status = 201, .content_type = "text/plain", .body = kMinted}));
  auto missing = client_->CreateToken("ns", "default");
  EXPECT_TRUE(apierrors::IsNotFound(missing.status())) << missing.status();
  auto forbidden = client_->CreateToken("ns", "default");
  EXPECT_TRUE(apierrors::IsForbidden(forbidden.status())) << forbidden.status();
  auto empty = client_->CreateToken("ns", "default");
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(empty.status().message()),
              HasSubstr("token of ServiceAccount ns/default: the answer has no status.token"));
  auto text = client_->CreateToken("ns", "default");
  EXPECT_FALSE(text.ok());
  EXPECT_THAT(std::string(text.status().message()), Not(HasSubstr(kMinted)));
}

// A TokenRequest stores nothing: a failed one is sent again (it only mints
// another token), and the token is in no log line on the way.
TEST_F(ClientTest, CreateTokenIsRetriedAndTheTokenIsNeverLogged) {
  testing_support::LogCapture log;
  EXPECT_CALL(*transport_, Send(Field(&HttpRequest::method, "POST")))
      .WillOnce(Return(Json(503, "")))
      .WillOnce(Return(absl::StatusOr<HttpResponse>(TransportError("connection reset"))))
      .WillOnce(Return(TokenAnswer(kMinted)));
  auto token = client_->CreateToken("ns", "default", {.expiration_seconds = 600});
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(*token, kMinted);
  EXPECT_THAT(log.text(), Not(HasSubstr("minted-sa-token")));
}

// Feeds `chunks` to the stream callback, then ends the response with `status`.
auto StreamChunks(std::vector<std::string> chunks, int status = 200) {
  return [chunks, status](
             const HttpRequest&, Cancellation&,
             absl::FunctionRef<bool(absl::string_view)> on_data) -> absl::StatusOr<HttpResponse> {
    for (const auto& c : chunks)
      if (!on_data(c)) break;
    return HttpResponse{.status = status, .content_type = "application/json"};
  };
}

TEST_F(ClientTest, WatchDeliversEventsAsTheyArrive) {
  EXPECT_CALL(*transport_, Stream(Field(&HttpRequest::path,
                                        "/api/v1/"
                                        "namespaces?watch=true&resourceVersion=10&"
                                        "allowWatchBookmarks=true&timeoutSeconds=300"),
                                  _, _))
      .WillOnce(Invoke(
          StreamChunks({R"({"type":"ADDED","object":{"metadata":{"name":"a"}}})"
                        "\n{\"ty",
                        R"(pe":"DELETED","object":{"metadata":{"name":"a"}}})"
                        "\n",
                        R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"12"}}})"
                        "\n"})));
  Cancellation cancel;
  std::vector<std::string> seen;
  auto s = client_->Watch(
      resources::kNamespaces, "", {.resource_version = "10", .timeout_seconds = 300}, cancel,
      [&](WatchEvent e) {
        seen.push_back(std::string(ToString(e.type)) + ":" + std::string(e.object.Name()) +
                       std::string(e.object.ResourceVersion()));
        return true;
      });
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_THAT(seen, ::testing::ElementsAre("ADDED:a", "DELETED:a", "BOOKMARK:12"));
}

TEST_F(ClientTest, WatchErrorEventEndsWithItsStatus) {
  EXPECT_CALL(*transport_, Stream(_, _, _))
      .WillOnce(Invoke(StreamChunks(
          {R"({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old"}})"
           "\n"})));
  Cancellation cancel;
  int errors = 0;
  auto s = client_->Watch(resources::kPods, "", {}, cancel, [&](WatchEvent e) {
    errors += e.type == WatchEvent::Type::kError;
    return true;
  });
  EXPECT_TRUE(apierrors::IsGone(s)) << s;
  EXPECT_EQ(errors, 1);
}

TEST_F(ClientTest, WatchFromTooOldVersionIsGone) {
  EXPECT_CALL(*transport_, Stream(_, _, _))
      .WillOnce(Return(Json(410, R"({"kind":"Status","reason":"Gone","code":410})")));
  Cancellation cancel;
  auto s = client_->Watch(resources::kPods, "", {.resource_version = "1"}, cancel,
                          [](WatchEvent) { return true; });
  EXPECT_TRUE(apierrors::IsGone(s));
}

TEST_F(ClientTest, WatchTruncatedOrGarbageStreamIsAnError) {
  EXPECT_CALL(*transport_, Stream(_, _, _))
      .WillOnce(Invoke(StreamChunks({R"({"type":"ADDED","obj)"})))
      .WillOnce(Invoke(StreamChunks({"\x01\x02garbage\n"})));
  Cancellation cancel;
  auto ignore = [](WatchEvent) { return true; };
  EXPECT_EQ(client_->Watch(resources::kPods, "", {}, cancel, ignore).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(client_->Watch(resources::kPods, "", {}, cancel, ignore).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ClientTest, WatchCancelled) {
  Cancellation cancel;
  EXPECT_CALL(*transport_, Stream(_, _, _))
      .WillOnce(
          Invoke([](const HttpRequest&, Cancellation& c,
                    absl::FunctionRef<bool(absl::string_view)>) -> absl::StatusOr<HttpResponse> {
            c.Cancel();
            return HttpResponse{.status = 200};
          }));
  EXPECT_EQ(
      client_->Watch(resources::kPods, "", {}, cancel, [](WatchEvent) { return true; }).code(),
      absl::StatusCode::kCancelled);
}

TEST_F(ClientTest, ClientSideLimiterDelaysRequests) {
  auto t = std::make_unique<testing_support::MockTransport>();
  EXPECT_CALL(*t, Send(_)).WillRepeatedly(Return(Json(200, R"({"metadata":{"name":"x"}})")));
  Client limited(std::move(t), ClientOptions{.qps = 5, .burst = 2, .clock = &clock_});
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(limited.Get(resources::kPods, "ns", "x").ok());
  // Two free, then 200 ms each for the next two.
  EXPECT_EQ(clock_.slept(), absl::Milliseconds(200) + absl::Milliseconds(200));
}

class SwitchFence : public WriteFence {
 public:
  absl::Status AllowWrite() const override {
    return open ? absl::OkStatus() : absl::FailedPreconditionError("lease lost");
  }
  bool open = true;
};

TEST(ClientFenceTest, AClosedFenceStopsWritesBeforeTheyAreSentButNotReads) {
  auto t = std::make_unique<testing_support::MockTransport>();
  auto* transport = t.get();
  SwitchFence fence;
  Client client(std::move(t), {.fence = &fence});
  fence.open = false;
  EXPECT_CALL(*transport, Send(Field(&HttpRequest::method, "GET")))
      .WillOnce(Return(Json(200, R"({"metadata":{"name":"x"}})")));
  EXPECT_TRUE(client.Get(resources::kConfigMaps, "ns", "x").ok());
  EXPECT_EQ(client.Create(resources::kConfigMaps, "ns", "{}").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(
      client.Patch(resources::kConfigMaps, "ns", "x", PatchType::kMerge, "{}").status().code(),
      absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(client.Delete(resources::kConfigMaps, "ns", "x").code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(ClientFenceTest, ARetriedWriteStopsWhenTheFenceClosesBetweenAttempts) {
  auto t = std::make_unique<testing_support::MockTransport>();
  auto* transport = t.get();
  SwitchFence fence;
  testing_support::FakeClock clock;
  Client client(std::move(t), {.max_attempts = 5, .clock = &clock, .fence = &fence});
  EXPECT_CALL(*transport, Send(Field(&HttpRequest::method, "PUT")))
      .WillOnce(Invoke([&](const HttpRequest&) {
        fence.open = false;  // the lease expires while the first attempt is out
        return Json(503, R"({"kind":"Status","code":503})");
      }));
  EXPECT_EQ(client.Update(resources::kConfigMaps, "ns", "x", "{}").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(ClientTimeoutTest, EveryExchangeCarriesTheConfiguredTimeout) {
  auto t = std::make_unique<testing_support::MockTransport>();
  auto* transport = t.get();
  Client client(std::move(t), {.request_timeout = absl::Seconds(2)});
  EXPECT_CALL(*transport, Send(Field(&HttpRequest::timeout, absl::Seconds(2))))
      .WillOnce(Return(Json(200, R"({"metadata":{"name":"x"}})")));
  EXPECT_TRUE(client.Get(resources::kConfigMaps, "ns", "x").ok());
}

TEST(ClientTimeoutTest, TheDefaultIsThirtySeconds) {
  auto t = std::make_unique<testing_support::MockTransport>();
  auto* transport = t.get();
  Client client(std::move(t), {});
  EXPECT_CALL(*transport, Send(Field(&HttpRequest::timeout, absl::Seconds(30))))
      .WillOnce(Return(Json(200, R"({"metadata":{"name":"x"}})")));
  EXPECT_TRUE(client.Get(resources::kConfigMaps, "ns", "x").ok());
}

TEST(ClientTimeoutTest, TheTimeoutErrorNamesTheRequestAndIsATransportFailure) {
  const absl::Status s = RequestTimeoutError({.method = "GET",
                                              .path = "/api/v1/namespaces/ns/configmaps?limit=500",
                                              .timeout = absl::Seconds(2)});
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("GET /api/v1/namespaces/ns/configmaps: no response within the 2s request "
                        "timeout"));
  EXPECT_TRUE(apierrors::IsRetryable(s));
  auto e = GetApiError(s);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, 0);
  EXPECT_EQ(e->reason, "TransportError");
}

TEST_F(ClientTest, ATimedOutGetIsRetriedAndSucceeds) {
  EXPECT_CALL(*transport_, Send(_))
      .WillOnce(Invoke([](const HttpRequest& req) { return RequestTimeoutError(req); }))
      .WillOnce(Return(Json(200, R"({"metadata":{"name":"x"}})")));
  EXPECT_TRUE(client_->Get(resources::kPods, "ns", "x").ok());
  EXPECT_THAT(observer_.seen, ::testing::ElementsAre("GET GET <error>", "GET GET 200"));
}

TEST_F(ClientTest, ATimedOutCreateIsNotResent) {
  EXPECT_CALL(*transport_, Send(Field(&HttpRequest::method, "POST")))
      .WillOnce(Invoke([](const HttpRequest& req) { return RequestTimeoutError(req); }));
  const absl::Status s = client_->Create(resources::kPods, "ns", "{}").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
}

// --- Client-side limits: the automatic mode, 429 pauses, the wait metric ---

constexpr char kPod[] = R"({"metadata":{"name":"x"}})";

TEST(ClientLimitTest, TheAutomaticLimitIsLiftedWhileTheServerAnnouncesFlowControl) {
  auto t = std::make_unique<testing_support::MockTransport>();
  auto* transport = t.get();
  testing_support::FakeClock clock;
  RecordingObserver observer;
  Client client(std::move(t), {.qps = -1,
                               .burst = 2,
                               .clock = &clock,
                               .token = std::make_shared<CountingToken>(),
                               .observer = &observer});
  EXPECT_FALSE(client.ServerHasFlowControl());
  // No APF headers (before the first answer, or an older server): 50 QPS, burst 2.
  EXPECT_CALL(*transport, Send(_)).Times(4).WillRepeatedly(Return(Json(200, kPod)));
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(client.Get(resources::kPods, "ns", "x").ok());
  EXPECT_EQ(clock.slept(), absl::Milliseconds(40));  // two free, then 1/50 s each
  EXPECT_THAT(observer.waits, ::testing::ElementsAre("GET 0", "GET 0", "GET 20ms", "GET 20ms"));
  // The headers appear: from the next request on, nothing waits and nothing is observed.
  EXPECT_CALL(*transport, Send(_)).WillOnce(Return(Apf(Json(200, kPod))));
  ASSERT_TRUE(client.Get(resources::kPods, "ns", "x").ok());
  EXPECT_TRUE(client.ServerHasFlowControl());
  const absl::Duration slept = clock.slept();
  observer.waits.clear();
  EXPECT_CALL(*transport, Send(_)).Times(100).WillRepeatedly(Return(Apf(Json(201, kPod))));
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(client.Create(resources::kPods, "ns", "{}").ok());
  EXPECT_EQ(clock.slept(), slept);
  EXPECT_THAT(observer.waits, ::testing::IsEmpty());
  // A watch (not classified by APF, so never with the headers) and a 401
  // (answered before classification) say nothing about the server.
  EXPECT_CALL(*transport, Stream(_, _, _))
      .WillOnce(Return(HttpResponse{.status = 200, .content_type = "application/json"}));
  Cancellation cancel;
  ASSERT_TRUE(client.Watch(resources::kPods, "", {}, cancel, [](WatchEvent) { return true; }).ok());
  EXPECT_CALL(*transport, Send(_))
      .WillOnce(Return(Json(401, "")))
      .WillOnce(Return(Apf(Json(200, kPod))));
  ASSERT_TRUE(client.Get(resources::kPods, "ns", "x").ok());
  EXPECT_TRUE(client.ServerHasFlowControl());
  EXPECT_EQ(clock.slept(), slept);
  // An answer without them (APF turned off, another server behind a balancer): limited again.
  EXPECT_CALL(*transport, Send(_)).Times(4).WillRepeatedly(Return(Json(200, kPod)));
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(client.Get(resources::kPods, "ns", "x").ok());
  EXPECT_FALSE(client.ServerHasFlowControl());
  EXPECT_GT(clock.slept(), slept);
}

TEST(ClientLimitTest, AnExplicitLimitHoldsUnderFlowControl) {
  auto t = std::make_unique<testing_support::MockTransport>();
  EXPECT_CALL(*t, Send(_)).WillRepeatedly(Return(Apf(Json(200, kPod))));
  testing_support::FakeClock clock;
  Client client(std::move(t), {.qps = 5, .burst = 1, .clock = &clock});
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client.Get(resources::kPods, "ns", "x").ok());
  EXPECT_TRUE(client.ServerHasFlowControl());
  EXPECT_EQ(clock.slept(), absl::Milliseconds(400));
}

TEST(ClientLimitTest, NoLimitMeansNoWaitAndNothingObserved) {
  auto t = std::make_unique<testing_support::MockTransport>();
  EXPECT_CALL(*t, Send(_)).WillRepeatedly(Return(Json(200, kPod)));
  testing_support::FakeClock clock;
  RecordingObserver observer;
  Client client(std::move(t), {.qps = 0, .clock = &clock, .observer = &observer});
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(client.Get(resources::kPods, "ns", "x").ok());
  EXPECT_EQ(clock.slept(), absl::ZeroDuration());
  EXPECT_THAT(observer.waits, ::testing::IsEmpty());
}

// With no client-side limit, a 429 is what slows the client down: the request
// is sent again after Retry-After, and every other request waits for it too.
TEST(ClientLimitTest, A429PausesEveryRequestForItsRetryAfter) {
  auto t = std::make_unique<testing_support::MockTransport>();
  auto* transport = t.get();
  testing_support::FakeClock clock;
  RecordingObserver observer;
  Client client(std::move(t),
                {.qps = -1, .max_attempts = 1, .clock = &clock, .observer = &observer});
  EXPECT_CALL(*transport, Send(Field(&HttpRequest::method, "POST")))
      .WillOnce(Return(
          Apf(Json(429, R"({"kind":"Status","reason":"TooManyRequests","code":429})", "3"))));
  EXPECT_TRUE(apierrors::IsTooManyRequests(client.Create(resources::kPods, "ns", "{}").status()));
  EXPECT_EQ(clock.slept(), absl::ZeroDuration());  // this one gave up (max_attempts 1)
  // The next request, another verb, waits out the rest of the pause before it is sent.
  clock.Advance(absl::Seconds(1));
  EXPECT_CALL(*transport, Send(Field(&HttpRequest::method, "GET")))
      .WillOnce(Invoke([&](const HttpRequest&) {
        EXPECT_EQ(clock.slept(), absl::Seconds(2));  // sent only after the pause
        return Apf(Json(200, kPod));
      }));
  ASSERT_TRUE(client.Get(resources::kPods, "ns", "x").ok());
  // (The POST passed the automatic limiter: no answer had announced APF yet.)
  EXPECT_THAT(observer.waits, ::testing::ElementsAre("POST 0", "GET 2s"));
  // Once it is over, nothing waits (the server announces APF: no limit).
  EXPECT_CALL(*transport, Send(_)).WillOnce(Return(Apf(Json(200, kPod))));
  ASSERT_TRUE(client.Get(resources::kPods, "ns", "x").ok());
  EXPECT_EQ(clock.slept(), absl::Seconds(2));
}

TEST(ClientLimitTest, A429IsRetriedAfterItsRetryAfterOrTheBackoff) {
  auto t = std::make_unique<testing_support::MockTransport>();
  auto* transport = t.get();
  testing_support::FakeClock clock;
  RecordingObserver observer;
  Client client(std::move(t), {.qps = 0,
                               .max_attempts = 3,
                               .backoff_initial = absl::Milliseconds(200),
                               .clock = &clock,
                               .observer = &observer});
  EXPECT_CALL(*transport, Send(_))
      .WillOnce(Return(Apf(Json(429, R"({"kind":"Status","code":429})", "7"))))
      .WillOnce(Return(Apf(Json(429, R"({"kind":"Status","code":429})"))))  // no Retry-After
      .WillOnce(Return(Apf(Json(201, kPod))));
  ASSERT_TRUE(client.Create(resources::kPods, "ns", "{}").ok());
  ASSERT_EQ(observer.waits.size(), 2u);
  EXPECT_EQ(observer.waits[0], "POST 7s");
  const absl::Duration backoff = clock.slept() - absl::Seconds(7);
  // The jittered backoff's second step (the first one gave way to Retry-After).
  EXPECT_GE(backoff, absl::Milliseconds(400));
  EXPECT_LT(backoff, absl::Milliseconds(600));
  EXPECT_THAT(observer.seen,
              ::testing::ElementsAre("POST POST 429", "POST POST 429", "POST POST 201"));
}

TEST(ClientLimitTest, TheWaitIsExportedAsClientGosRateLimiterHistogram) {
  auto t = std::make_unique<testing_support::MockTransport>();
  EXPECT_CALL(*t, Send(_)).WillRepeatedly(Return(Json(200, kPod)));
  testing_support::FakeClock clock;
  ops::Metrics metrics("environment", "h:6443", 4);
  Client client(std::move(t), {.qps = 5, .burst = 1, .clock = &clock, .observer = &metrics});
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client.Get(resources::kPods, "ns", "x").ok());
  ASSERT_TRUE(client.Delete(resources::kPods, "ns", "x").ok());
  const std::string text = metrics.Scrape();
  EXPECT_THAT(text, HasSubstr("# TYPE rest_client_rate_limiter_duration_seconds histogram"));
  EXPECT_THAT(text, HasSubstr("rest_client_rate_limiter_duration_seconds_count{host=\"h:6443\","
                              "verb=\"GET\"} 3"));
  EXPECT_THAT(text, HasSubstr("rest_client_rate_limiter_duration_seconds_sum{host=\"h:6443\","
                              "verb=\"GET\"} 0.4"));
  EXPECT_THAT(text, HasSubstr("rest_client_rate_limiter_duration_seconds_bucket{host=\"h:6443\","
                              "verb=\"GET\",le=\"0.005\"} 1"));
  EXPECT_THAT(text, HasSubstr("rest_client_rate_limiter_duration_seconds_bucket{host=\"h:6443\","
                              "verb=\"GET\",le=\"0.25\"} 3"));
  EXPECT_THAT(text, HasSubstr("rest_client_rate_limiter_duration_seconds_count{host=\"h:6443\","
                              "verb=\"DELETE\"} 1"));
}

}  // namespace
}  // namespace kube
