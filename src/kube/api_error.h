// ApiError: how a failed Kubernetes API call is reported across module boundaries.
//
// Every client call returns absl::Status; when the API server (or the road to it)
// failed the call, the status carries the HTTP code and the metav1.Status reason
// as payloads, so callers branch on IsNotFound(s) & co. instead of parsing text.
#pragma once

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace kube {

struct ApiError {
  int code = 0;        // HTTP status; 0 when no response arrived (transport failure)
  std::string reason;  // metav1.StatusReason: NotFound, Conflict, Expired, ...
  std::string message;
  absl::Duration retry_after = absl::ZeroDuration();  // from Retry-After or details
};

// Builds the absl::Status for e: the code maps NotFound→kNotFound, AlreadyExists→
// kAlreadyExists, Conflict→kAborted, Invalid/BadRequest→kInvalidArgument,
// Gone/Expired→kOutOfRange, TooManyRequests→kResourceExhausted, Unauthorized→
// kUnauthenticated, Forbidden→kPermissionDenied, Timeout→kDeadlineExceeded,
// 5xx and transport failures→kUnavailable/kInternal.
absl::Status MakeApiError(const ApiError& e);

// The ApiError a status carries, if it came from MakeApiError.
std::optional<ApiError> GetApiError(const absl::Status& s);

// Parses an API server error response: a metav1.Status body when there is one
// (reason, message, field causes, retryAfterSeconds), else the code and a
// trimmed body.
absl::Status ErrorFromResponse(int http_code, absl::string_view content_type,
                               absl::string_view body, absl::string_view retry_after_header);

// A transport-level failure (connection refused, TLS, reset, timeout).
absl::Status TransportError(absl::string_view what);
// A transport failure before the whole request reached the server (no
// connection, TLS handshake, writing the request): the server cannot have
// acted on it, so any verb may be sent again (Go's net/http retries these).
absl::Status NotSentError(absl::string_view what);

// Predicates in client-go's apierrors spirit; call them qualified
// (apierrors::IsNotFound) since absl has same-named ones found by ADL.
namespace apierrors {
bool IsNotFound(const absl::Status& s);
bool IsAlreadyExists(const absl::Status& s);
bool IsConflict(const absl::Status& s);
bool IsInvalid(const absl::Status& s);
bool IsGone(const absl::Status& s);  // 410 Gone or reason Expired: relist
bool IsTooManyRequests(const absl::Status& s);
bool IsUnauthorized(const absl::Status& s);
bool IsForbidden(const absl::Status& s);
// 429, 5xx and transport failures: worth retrying an idempotent request.
bool IsRetryable(const absl::Status& s);
bool WasNotSent(const absl::Status& s);  // NotSentError
absl::Duration RetryAfter(const absl::Status& s);
}  // namespace apierrors

}  // namespace kube
