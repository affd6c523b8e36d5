#include "kube/api_error.h"

#include <charconv>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "rapidjson/document.h"

namespace kube {
namespace {

constexpr absl::string_view kCodeKey = "k8s.io/code";
constexpr absl::string_view kReasonKey = "k8s.io/reason";
constexpr absl::string_view kRetryKey = "k8s.io/retry-after-ms";

// Reasons a 4xx/5xx body may omit: the canonical one for the code.
absl::string_view ReasonForCode(int code) {
  switch (code) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 406:
      return "NotAcceptable";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 415:
      return "UnsupportedMediaType";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 500:
      return "InternalError";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return "";
  }
}

absl::StatusCode CodeFor(const ApiError& e) {
  const absl::string_view r = e.reason;
  if (r == "NotFound") return absl::StatusCode::kNotFound;
  if (r == "AlreadyExists") return absl::StatusCode::kAlreadyExists;
  if (r == "Conflict") return absl::StatusCode::kAborted;
  if (r == "Invalid" || r == "BadRequest" || r == "UnsupportedMediaType" ||
      r == "RequestEntityTooLarge")
    return absl::StatusCode::kInvalidArgument;
  if (r == "Gone" || r == "Expired") return absl::StatusCode::kOutOfRange;
  if (r == "TooManyRequests") return absl::StatusCode::kResourceExhausted;
  if (r == "Unauthorized") return absl::StatusCode::kUnauthenticated;
  if (r == "Forbidden") return absl::StatusCode::kPermissionDenied;
  if (r == "Timeout" || r == "ServerTimeout") return absl::StatusCode::kDeadlineExceeded;
  if (r == "MethodNotAllowed" || r == "NotAcceptable") return absl::StatusCode::kUnimplemented;
  if (e.code == 0 || e.code == 502 || e.code == 503) return absl::StatusCode::kUnavailable;
  if (e.code >= 500) return absl::StatusCode::kInternal;
  return absl::StatusCode::kUnknown;
}

const rapidjson::Value* Field(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject()) return nullptr;
  for (const auto& m : v.GetObject())
    if (absl::string_view(m.name.GetString(), m.name.GetStringLength()) == key) return &m.value;
  return nullptr;
}

absl::string_view Str(const rapidjson::Value& v, const char* key) {
  const rapidjson::Value* f = Field(v, key);
  if (!f || !f->IsString()) return {};
  return {f->GetString(), f->GetStringLength()};
}

}  // namespace

absl::Status MakeApiError(const ApiError& e) {
  std::string msg = e.message.empty() ? absl::StrCat(e.reason, " (HTTP ", e.code, ")")
                                      : absl::StrCat(e.reason, ": ", e.message);
  absl::Status s(CodeFor(e), msg);
  s.SetPayload(kCodeKey, absl::Cord(absl::StrCat(e.code)));
  s.SetPayload(kReasonKey, absl::Cord(e.reason));
  if (e.retry_after > absl::ZeroDuration())
    s.SetPayload(kRetryKey, absl::Cord(absl::StrCat(absl::ToInt64Milliseconds(e.retry_after))));
  return s;
}

std::optional<ApiError> GetApiError(const absl::Status& s) {
  auto code = s.GetPayload(kCodeKey);
  if (!code) return std::nullopt;
  ApiError e;
  (void)absl::SimpleAtoi(std::string(*code), &e.code);
  if (auto r = s.GetPayload(kReasonKey)) e.reason = std::string(*r);
  int64_t ms = 0;
  if (auto ra = s.GetPayload(kRetryKey); ra && absl::SimpleAtoi(std::string(*ra), &ms))
    e.retry_after = absl::Milliseconds(ms);
  e.message = std::string(s.message());
  return e;
}

absl::Status ErrorFromResponse(int http_code, absl::string_view content_type,
                               absl::string_view body, absl::string_view retry_after_header) {
  ApiError e{.code = http_code, .reason = std::string(ReasonForCode(http_code))};
  int64_t secs = 0;
  if (absl::SimpleAtoi(retry_after_header, &secs) && secs > 0) e.retry_after = absl::Seconds(secs);

  rapidjson::Document doc;
  const bool json = content_type.find("json") != absl::string_view::npos;
  if (json && !doc.Parse(body.data(), body.size()).HasParseError() && doc.IsObject() &&
      Str(doc, "kind") == "Status") {
    if (auto r = Str(doc, "reason"); !r.empty()) e.reason = std::string(r);
    e.message = std::string(Str(doc, "message"));
    if (const rapidjson::Value* d = Field(doc, "details"); d && d->IsObject()) {
      if (const rapidjson::Value* ra = Field(*d, "retryAfterSeconds");
          ra && ra->IsInt() && ra->GetInt() > 0 && e.retry_after == absl::ZeroDuration())
        e.retry_after = absl::Seconds(ra->GetInt());
      // Invalid: name the fields, as kubectl does.
      if (const rapidjson::Value* c = Field(*d, "causes"); c && c->IsArray()) {
        std::vector<std::string> causes;
        for (const auto& cause : c->GetArray()) {
          auto field = Str(cause, "field");
          auto m = Str(cause, "message");
          causes.push_back(field.empty() ? std::string(m) : absl::StrCat(field, ": ", m));
        }
        if (!causes.empty() && e.message.empty()) e.message = absl::StrJoin(causes, "; ");
      }
    }
  } else {
    // Not a Status (a proxy's HTML page, plain text): keep it short and printable.
    absl::string_view head = body.substr(0, 256);
    e.message = absl::StrCat("HTTP ", http_code,
                             content_type.empty() ? "" : absl::StrCat(" (", content_type, ")"),
                             head.empty() ? "" : ": ", head);
    for (char& ch : e.message)
      if (static_cast<unsigned char>(ch) < 0x20) ch = ' ';
  }
  if (e.reason.empty()) e.reason = http_code >= 500 ? "InternalError" : "Unknown";
  return MakeApiError(e);
}

absl::Status TransportError(absl::string_view what) {
  return MakeApiError(
      ApiError{.code = 0, .reason = "TransportError", .message = std::string(what)});
}

absl::Status NotSentError(absl::string_view what) {
  return MakeApiError(ApiError{.code = 0, .reason = "NotSent", .message = std::string(what)});
}

namespace {
bool HasReason(const absl::Status& s, absl::string_view a, absl::string_view b = {}) {
  auto r = s.GetPayload(kReasonKey);
  if (!r) return false;
  std::string reason(*r);
  return reason == a || (!b.empty() && reason == b);
}
int Code(const absl::Status& s) {
  int code = 0;
  if (auto c = s.GetPayload(kCodeKey)) (void)absl::SimpleAtoi(std::string(*c), &code);
  return code;
}
}  // namespace

namespace apierrors {
bool IsNotFound(const absl::Status& s) { return HasReason(s, "NotFound"); }
bool IsAlreadyExists(const absl::Status& s) { return HasReason(s, "AlreadyExists"); }
bool IsConflict(const absl::Status& s) { return HasReason(s, "Conflict"); }
bool IsInvalid(const absl::Status& s) { return HasReason(s, "Invalid"); }
bool IsGone(const absl::Status& s) { return Code(s) == 410 || HasReason(s, "Gone", "Expired"); }
bool IsTooManyRequests(const absl::Status& s) { return Code(s) == 429; }
bool IsUnauthorized(const absl::Status& s) { return Code(s) == 401; }
bool IsForbidden(const absl::Status& s) { return Code(s) == 403; }
bool IsRetryable(const absl::Status& s) {
  if (!s.GetPayload(kCodeKey)) return false;
  const int code = Code(s);
  return code == 0 || code == 429 || (code >= 500 && code != 501);
}
bool WasNotSent(const absl::Status& s) { return Code(s) == 0 && HasReason(s, "NotSent"); }
absl::Duration RetryAfter(const absl::Status& s) {
  auto e = GetApiError(s);
  return e ? e->retry_after : absl::ZeroDuration();
}
}  // namespace apierrors

}  // namespace kube
