#include "kube/api_error.h"

#include "gtest/gtest.h"

namespace kube {
namespace {

TEST(ApiErrorTest, StatusBodyGivesReasonCodeAndMessage) {
  absl::Status s = ErrorFromResponse(
      404, "application/json",
      R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"x\" not found","reason":"NotFound","code":404})",
      "");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(apierrors::IsNotFound(s));
  EXPECT_FALSE(apierrors::IsConflict(s));
  EXPECT_FALSE(apierrors::IsRetryable(s));
  auto e = GetApiError(s);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, 404);
  EXPECT_EQ(e->reason, "NotFound");
  EXPECT_NE(std::string(s.message()).find("pods \"x\" not found"), std::string::npos);
}

TEST(ApiErrorTest, ConflictAndAlreadyExistsShare409ButNotReason) {
  auto conflict = ErrorFromResponse(409, "application/json",
                                    R"({"kind":"Status","reason":"Conflict","code":409})", "");
  auto exists = ErrorFromResponse(409, "application/json",
                                  R"({"kind":"Status","reason":"AlreadyExists","code":409})", "");
  EXPECT_TRUE(apierrors::IsConflict(conflict));
  EXPECT_FALSE(apierrors::IsAlreadyExists(conflict));
  EXPECT_TRUE(apierrors::IsAlreadyExists(exists));
  EXPECT_FALSE(apierrors::IsConflict(exists));
  EXPECT_EQ(conflict.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(exists.code(), absl::StatusCode::kAlreadyExists);
}

TEST(ApiErrorTest, InvalidNamesTheFieldCauses) {
  auto s = ErrorFromResponse(
      422, "application/json",
      R"({"kind":"Status","reason":"Invalid","code":422,"details":{"causes":[{"reason":"FieldValueRequired","message":"Required value","field":"spec.type"},{"message":"bad","field":"metadata.name"}]}})",
      "");
  EXPECT_TRUE(apierrors::IsInvalid(s));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(s.message()).find("spec.type: Required value"), std::string::npos);
  EXPECT_NE(std::string(s.message()).find("metadata.name: bad"), std::string::npos);
}

TEST(ApiErrorTest, GoneAndExpiredBothMeanRelist) {
  EXPECT_TRUE(apierrors::IsGone(ErrorFromResponse(
      410, "application/json", R"({"kind":"Status","reason":"Gone","code":410})", "")));
  EXPECT_TRUE(apierrors::IsGone(ErrorFromResponse(
      410, "application/json", R"({"kind":"Status","reason":"Expired","code":410})", "")));
  EXPECT_EQ(ErrorFromResponse(410, "", "", "").code(), absl::StatusCode::kOutOfRange);
}

TEST(ApiErrorTest, RetryAfterFromHeaderOrDetails) {
  auto header = ErrorFromResponse(429, "text/plain", "slow down", "3");
  EXPECT_TRUE(apierrors::IsTooManyRequests(header));
  EXPECT_TRUE(apierrors::IsRetryable(header));
  EXPECT_EQ(apierrors::RetryAfter(header), absl::Seconds(3));
  auto details = ErrorFromResponse(
      429, "application/json",
      R"({"kind":"Status","reason":"TooManyRequests","code":429,"details":{"retryAfterSeconds":7}})",
      "");
  EXPECT_EQ(apierrors::RetryAfter(details), absl::Seconds(7));
  EXPECT_EQ(details.code(), absl::StatusCode::kResourceExhausted);
}

TEST(ApiErrorTest, AuthErrors) {
  auto unauth = ErrorFromResponse(401, "application/json",
                                  R"({"kind":"Status","reason":"Unauthorized","code":401})", "");
  auto forbidden = ErrorFromResponse(
      403, "application/json",
      R"({"kind":"Status","reason":"Forbidden","message":"cannot list pods","code":403})", "");
  EXPECT_TRUE(apierrors::IsUnauthorized(unauth));
  EXPECT_EQ(unauth.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(apierrors::IsForbidden(forbidden));
  EXPECT_EQ(forbidden.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_FALSE(apierrors::IsRetryable(forbidden));
}

TEST(ApiErrorTest, NonStatusBodyIsShortAndPrintable) {
  std::string html = "<html>\n<body>" + std::string(5000, 'x') + "</body></html>";
  auto s = ErrorFromResponse(502, "text/html", html, "");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(apierrors::IsRetryable(s));
  EXPECT_LT(s.message().size(), 400u);
  EXPECT_EQ(std::string(s.message()).find('\n'), std::string::npos);
  EXPECT_NE(std::string(s.message()).find("HTTP 502"), std::string::npos);
}

TEST(ApiErrorTest, MalformedStatusJsonFallsBackToCode) {
  auto s = ErrorFromResponse(500, "application/json", R"({"kind":"Status","reason":)", "");
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(apierrors::IsRetryable(s));
}

TEST(ApiErrorTest, TransportErrorsAreRetryableAndPlainErrorsAreNot) {
  auto t = TransportError("connection refused");
  EXPECT_EQ(t.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(apierrors::IsRetryable(t));
  EXPECT_FALSE(apierrors::IsRetryable(absl::UnavailableError("not from the API")));
  EXPECT_FALSE(GetApiError(absl::InternalError("x")));
}

}  // namespace
}  // namespace kube
