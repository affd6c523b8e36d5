// The git token the operator asks of the web app for its own clones
// (controllers/environment/git_token.h): the request, each refusal's error,
// what is not taken for a token, and the mint that comes first.
#include "controllers/environment/git_token.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/api_error.h"
#include "support/fake_clock.h"
#include "support/log_capture.h"
#include "support/mock_transport.h"

namespace controllers {
namespace {

using ::testing::_;
using ::testing::AllOf;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Return;
using ::testing::StartsWith;
using testing_support::Json;

constexpr char kUrl[] = "http://web.catalyst.svc:3000/app/";
constexpr char kId[] = "12345678";
constexpr char kBearer[] = "eyJhbGciOiJSUzI1NiJ9.sa-bearer.sig";
constexpr char kGitToken[] = "ghs_16C7e42F292c6912E7710c838347Ae178B4a";

kube::HttpResponse Text(int status, std::string body,
                        std::string content_type = "text/plain; charset=utf-8") {
  return {.status = status, .content_type = std::move(content_type), .body = std::move(body)};
}

// The error's message, which must name the installation and hold no secret.
std::string Message(const absl::StatusOr<std::string>& r) {
  EXPECT_FALSE(r.ok());
  const std::string m(r.status().message());
  EXPECT_THAT(m, StartsWith(absl::StrCat("git token for installation ", kId, ": ")));
  EXPECT_THAT(m, Not(HasSubstr("sa-bearer")));
  EXPECT_THAT(m, Not(HasSubstr(kGitToken)));
  return m;
}

class FetchGitTokenTest : public ::testing::Test {
 protected:
  absl::StatusOr<std::string> Answering(absl::StatusOr<kube::HttpResponse> answer) {
    EXPECT_CALL(web_, Send(_)).WillOnce(Return(std::move(answer)));
    return FetchGitToken(&web_, kUrl, kId, kBearer);
  }
  testing::StrictMock<testing_support::MockTransport> web_;
};

TEST_F(FetchGitTokenTest, AsksUnderTheWebUrlsPathWithTheGivenBearerAndTrimsTheToken) {
  EXPECT_CALL(web_, Send(AllOf(Field(&kube::HttpRequest::method, "GET"),
                               Field(&kube::HttpRequest::path, "/app/api/git-token/12345678"),
                               Field(&kube::HttpRequest::bearer, kBearer),
                               Field(&kube::HttpRequest::accept, "text/plain"),
                               Field(&kube::HttpRequest::timeout, absl::Seconds(20)))))
      .WillOnce(Return(Text(200, absl::StrCat(kGitToken, "\r\n"))));
  auto token = FetchGitToken(&web_, kUrl, kId, kBearer);
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(*token, kGitToken);
}

TEST_F(FetchGitTokenTest, TheInstallationIdIsOnePathSegment) {
  EXPECT_CALL(web_, Send(Field(&kube::HttpRequest::path, "/api/git-token/..%2F1%3Fx%3D1")))
      .WillOnce(Return(Text(403, "")));
  EXPECT_EQ(FetchGitToken(&web_, "http://web:3000", "../1?x=1", kBearer).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(FetchGitTokenTest, EachRefusalNamesTheCause) {
  auto r = Answering(Json(401, R"({"error":"Unauthorized"})"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(Message(r), HasSubstr("the Catalyst web app refused the token (HTTP 401)"));

  r = Answering(Json(403, R"({"error":"Forbidden"})"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(Message(r), HasSubstr("not the installation of the Project of the token's "
                                    "namespace (HTTP 403)"));

  r = Answering(Json(404, R"({"error":"Not found"})"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(r), HasSubstr("knows no such installation (HTTP 404"));

  r = Answering(Json(400, R"({"error":"Invalid installation ID"})"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(r), HasSubstr("the Catalyst web app answered HTTP 400"));

  for (int code : {429, 500, 503}) {
    r = Answering(Json(code, R"({"error":"Internal server error"})"));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << code;
    EXPECT_THAT(Message(r), HasSubstr(absl::StrCat("answered HTTP ", code)));
  }

  r = Answering(absl::StatusOr<kube::HttpResponse>(
      kube::TransportError("GET /app/api/git-token/12345678: connection refused")));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Message(r),
              AllOf(HasSubstr(absl::StrCat("the Catalyst web app at ", kUrl, " is unreachable: ")),
                    HasSubstr("connection refused")));
}

// An answer that is not a token is refused without being quoted: it might be
// one, or a secret of another kind.
TEST_F(FetchGitTokenTest, AnAnswerThatIsNotATokenIsRefusedUnquoted) {
  auto r = Answering(Json(200, absl::StrCat(R"({"token":")", kGitToken, R"("})")));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(r), HasSubstr("content type 'application/json', not a text/plain token"));

  r = Answering(Text(200, std::string(kMaxGitTokenBytes + 1, 'a')));
  EXPECT_THAT(Message(r), HasSubstr("larger than 8192 bytes"));

  r = Answering(Text(200, " \n"));
  EXPECT_THAT(Message(r), HasSubstr("an empty token"));

  // git's credential protocol is one attribute a line: no smuggled ones.
  r = Answering(Text(200, absl::StrCat(kGitToken, "\nusername=someone-else")));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(r), HasSubstr("not a token (a character outside printable ASCII)"));
  r = Answering(Text(200, absl::StrCat(kGitToken, " ", kGitToken)));
  EXPECT_THAT(Message(r), HasSubstr("not a token"));
}

TEST_F(FetchGitTokenTest, NothingIsSentWithoutABearerAnInstallationOrAWebApp) {
  // No bearer: the transport would have sent the operator's own token.
  auto r = FetchGitToken(&web_, kUrl, kId, "");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(r), HasSubstr("no token to ask with"));
  EXPECT_EQ(FetchGitToken(&web_, kUrl, "", kBearer).status().code(),
            absl::StatusCode::kInvalidArgument);
  r = FetchGitToken(nullptr, kUrl, kId, kBearer);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Message(r), HasSubstr("no Catalyst web app to ask (--web-url)"));
  EXPECT_EQ(FetchGitToken(&web_, "", kId, kBearer).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

class GitTokenForNamespaceTest : public ::testing::Test {
 protected:
  GitTokenForNamespaceTest() {
    auto t = std::make_unique<testing::StrictMock<testing_support::MockTransport>>();
    api_ = t.get();
    client_ = std::make_unique<kube::Client>(
        std::move(t), kube::ClientOptions{.max_attempts = 1, .clock = &clock_});
  }
  // The API server mints kBearer for ServiceAccount ns/default, for ten minutes.
  void Mints(const std::string& ns) {
    EXPECT_CALL(
        *api_,
        Send(AllOf(
            Field(&kube::HttpRequest::method, "POST"),
            Field(&kube::HttpRequest::path,
                  absl::StrCat("/api/v1/namespaces/", ns, "/serviceaccounts/default/token")),
            Field(&kube::HttpRequest::body, HasSubstr(R"("spec":{"expirationSeconds":600})")))))
        .WillOnce(Return(Json(201, absl::StrCat(R"({"kind":"TokenRequest","status":{"token":")",
                                                kBearer, R"("}})"))));
  }

  testing_support::FakeClock clock_;
  testing::StrictMock<testing_support::MockTransport>* api_;
  std::unique_ptr<kube::Client> client_;
  testing::StrictMock<testing_support::MockTransport> web_;
};

TEST_F(GitTokenForNamespaceTest, AsksWithATokenOfTheNamespacesDefaultServiceAccount) {
  testing_support::LogCapture log;
  Mints("team-a-dev");
  EXPECT_CALL(web_, Send(AllOf(Field(&kube::HttpRequest::path, "/app/api/git-token/12345678"),
                               Field(&kube::HttpRequest::bearer, kBearer))))
      .WillOnce(Return(Text(200, kGitToken)));
  auto token = GitTokenForNamespace(client_.get(), &web_, kUrl, "team-a-dev", kId);
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(*token, kGitToken);
  EXPECT_THAT(log.text(), Not(HasSubstr("sa-bearer")));
  EXPECT_THAT(log.text(), Not(HasSubstr(kGitToken)));
}

TEST_F(GitTokenForNamespaceTest, ARefusalNamesTheNamespace) {
  Mints("team-b-dev");
  EXPECT_CALL(web_, Send(_)).WillOnce(Return(Json(403, R"({"error":"Forbidden"})")));
  auto r = GitTokenForNamespace(client_.get(), &web_, kUrl, "team-b-dev", kId);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(Message(r), HasSubstr("not the installation of the Project of namespace "
                                    "team-b-dev (HTTP 403)"));

  Mints("team-b-dev");
  EXPECT_CALL(web_, Send(_)).WillOnce(Return(Json(401, R"({"error":"Unauthorized"})")));
  r = GitTokenForNamespace(client_.get(), &web_, kUrl, "team-b-dev", kId);
  EXPECT_THAT(Message(r), HasSubstr("refused the token of ServiceAccount team-b-dev/default "
                                    "(HTTP 401)"));
}

// The web app is not asked when no token came: the mint's API error is kept,
// so a caller can tell a ServiceAccount not made yet (retry) from a refusal.
TEST_F(GitTokenForNamespaceTest, AFailedMintKeepsItsApiErrorAndAsksNothingElse) {
  EXPECT_CALL(*api_, Send(_))
      .WillOnce(Return(Json(
          404,
          R"({"kind":"Status","reason":"NotFound","code":404,"message":"serviceaccounts \"default\" not found"})")))
      .WillOnce(Return(Json(
          403,
          R"({"kind":"Status","reason":"Forbidden","code":403,"message":"denied by the policy"})")));
  auto r = GitTokenForNamespace(client_.get(), &web_, kUrl, "team-a-dev", kId);
  EXPECT_TRUE(kube::apierrors::IsNotFound(r.status())) << r.status();
  EXPECT_THAT(Message(r), HasSubstr("no token of ServiceAccount team-a-dev/default: "));
  EXPECT_THAT(Message(r), HasSubstr(R"(serviceaccounts "default" not found)"));
  r = GitTokenForNamespace(client_.get(), &web_, kUrl, "team-a-dev", kId);
  EXPECT_TRUE(kube::apierrors::IsForbidden(r.status())) << r.status();
  // Nothing minted for a web app that cannot be asked.
  EXPECT_EQ(GitTokenForNamespace(client_.get(), nullptr, kUrl, "team-a-dev", kId).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace controllers
