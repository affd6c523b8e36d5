// A gmock Transport for client tests.
#pragma once

#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "kube/transport.h"

namespace testing_support {

class MockTransport : public kube::Transport {
 public:
  MOCK_METHOD(absl::StatusOr<kube::HttpResponse>, Send, (const kube::HttpRequest&), (override));
  MOCK_METHOD(absl::StatusOr<kube::HttpResponse>, Stream,
              (const kube::HttpRequest&, util::Cancellation&,
               absl::FunctionRef<bool(absl::string_view)>),
              (override));
};

inline kube::HttpResponse Json(int status, std::string body, std::string retry_after = "") {
  return {.status = status,
          .content_type = "application/json",
          .retry_after = std::move(retry_after),
          .body = std::move(body)};
}

}  // namespace testing_support
