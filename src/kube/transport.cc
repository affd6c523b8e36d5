#include "kube/transport.h"

#include <chrono>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "kube/api_error.h"

namespace kube {

absl::Status RequestTimeoutError(const HttpRequest& req) {
  // The path without its query, as in every transport error.
  const absl::Status t = TransportError(absl::StrCat(
      req.method, " ", req.path.substr(0, req.path.find('?')), ": no response within the ",
      absl::FormatDuration(req.timeout), " request timeout; connection closed"));
  absl::Status s(absl::StatusCode::kDeadlineExceeded, t.message());
  t.ForEachPayload(
      [&s](absl::string_view key, const absl::Cord& value) { s.SetPayload(key, value); });
  return s;
}

}  // namespace kube
