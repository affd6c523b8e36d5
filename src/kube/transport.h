// Transport: the narrow HTTP interface the API client is written against.
//
// One real implementation (cpprest_transport.h) lives in its own translation
// unit so that cpprest's heavy headers stay out of the rest of the build, and
// another (HTTP/2, a test fake) can replace it.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "util/cancellation.h"

namespace kube {

// Requests take the caller's cancellation (util/cancellation.h).
using util::Cancellation;

struct HttpRequest {
  std::string method = "GET";
  std::string path;  // absolute path and query: /api/v1/namespaces?limit=500
  std::string body;
  std::string content_type;  // of body
  std::string accept = "application/json";
  // When set, sent as `Authorization: Bearer <bearer>` in place of the
  // transport's own token: one request as another identity (the web app's git
  // token is asked with a token of the environment namespace's ServiceAccount,
  // controllers/environment/git_token.h). Never logged.
  std::string bearer;
  // The whole exchange of a Send, from sending to the body's last byte; past
  // it the connection is closed and Send returns RequestTimeoutError. Zero or
  // infinite: none. Stream ignores it: a watch lives for minutes, and the
  // reflector's watchdog is what notices a silent one.
  absl::Duration timeout = absl::Seconds(30);
};

struct HttpResponse {
  int status = 0;
  std::string content_type;
  std::string retry_after;  // the Retry-After header, verbatim
  std::string body;
  // API Priority and Fairness (kube-apiserver 1.20+ by default) names the
  // FlowSchema and PriorityLevel that classified the request in every
  // response it handled: X-Kubernetes-PF-FlowSchema-UID and
  // X-Kubernetes-PF-PriorityLevel-UID. Empty when absent (an older server,
  // APF turned off, a watch: long-running requests are not classified).
  std::string flow_schema_uid;
  std::string priority_level_uid;
};

// What Send returns for an exchange that outlived req.timeout:
// DeadlineExceeded naming the timeout, and a transport failure (api_error.h:
// code 0, reason TransportError), so the client retries it like one.
absl::Status RequestTimeoutError(const HttpRequest& req);

class Transport {
 public:
  virtual ~Transport() = default;

  // One request/response exchange. A non-OK status means no response arrived.
  virtual absl::StatusOr<HttpResponse> Send(const HttpRequest& req) = 0;

  // Sends req; on a 2xx response hands the body to on_data in chunks as they
  // arrive, until the server ends it, on_data returns false, or cancel fires
  // (all three return the response with an empty body). A non-2xx response is
  // returned whole, not streamed.
  virtual absl::StatusOr<HttpResponse> Stream(
      const HttpRequest& req, util::Cancellation& cancel,
      absl::FunctionRef<bool(absl::string_view)> on_data) = 0;
};

}  // namespace kube
