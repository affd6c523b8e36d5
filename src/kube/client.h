// Client: the Kubernetes REST verbs over a Transport.
//
// Adds what every caller needs and no caller should write: JSON decoding,
// error mapping (api_error.h), a shared QPS/burst limiter (lifted, in the
// automatic mode, while the API server announces API Priority and Fairness),
// retries with jittered backoff on idempotent verbs (honouring Retry-After;
// a 429 pauses every request of the client), a bearer token re-read after
// 401, and a metrics hook.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "kube/object.h"
#include "kube/resource.h"
#include "kube/token_source.h"
#include "kube/transport.h"
#include "kube/watch_decoder.h"
#include "util/clock.h"
#include "util/token_bucket.h"

namespace kube {

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int64_t limit = 0;                   // page size; 0: the server's default (all)
  std::string continue_token;          // from the previous page
  std::string resource_version;        // "" most recent (quorum read); "0" any cached
  std::string resource_version_match;  // NotOlderThan | Exact (1.19+)
  bool slim = false;  // drop managedFields & last-applied while parsing (json_parse.h)
};

struct ListResult {
  std::string resource_version;
  std::string continue_token;  // non-empty: more pages
  std::vector<Object> items;
};

struct WatchOptions {
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;
  bool allow_bookmarks = true;
  int timeout_seconds = 0;  // server-side end of the watch; 0: server default
  bool slim = false;        // as in ListOptions
};

enum class PatchType { kMerge, kJson, kStrategicMerge, kApply };

struct PatchOptions {
  std::string field_manager;  // required for kApply
  bool force = false;         // kApply: take over conflicting fields
};

struct DeleteOptions {
  std::string propagation_policy;  // Foreground | Background | Orphan; "" server default
  std::string precondition_uid;
  std::string precondition_resource_version;
  std::optional<int64_t> grace_period_seconds;
};

// A TokenRequest (authentication.k8s.io/v1): a bound ServiceAccount token.
struct TokenRequestOptions {
  int64_t expiration_seconds = 0;      // 0: the API server's default (an hour)
  std::vector<std::string> audiences;  // none: the API server's own audiences
};

// Observes every request for metrics; must be thread-safe.
class RequestObserver {
 public:
  virtual ~RequestObserver() = default;
  // code: HTTP status, or "<error>" when none arrived. verb: GET, LIST, WATCH, ...
  virtual void Observe(absl::string_view verb, absl::string_view method, absl::string_view code,
                       absl::Duration latency) = 0;
  // How long a request waited in the client before it was sent: the QPS
  // limiter's delay, or the pause a 429 (or a 5xx with Retry-After) asked
  // for. Called for every request that passed an active limiter (zero waits
  // included) and for every request a pause held back; not while no limit
  // applies. method: GET, POST, PUT, PATCH, DELETE (a LIST and a WATCH are GETs).
  virtual void ObserveRateLimiterWait(absl::string_view /*method*/, absl::Duration /*waited*/) {}
};

// Decides whether a write may be sent now (leader election's fencing: a
// leader that could not renew its lease in time must stop writing at once).
class WriteFence {
 public:
  virtual ~WriteFence() = default;
  virtual absl::Status AllowWrite() const = 0;  // non-OK: the write is not sent
};

struct ClientOptions {
  // The client-side limit, a token bucket shared by every request:
  // - qps > 0: qps and burst, always;
  // - qps == 0: none;
  // - qps < 0: automatic: none while the API server announces API Priority
  //   and Fairness (the X-Kubernetes-PF-* headers of its latest answer to a
  //   request; kube-apiserver 1.20+ has it on by default), which queues and
  //   sheds load per flow on the server; otherwise (before the first answer,
  //   an older server, APF turned off) kAutomaticQps and burst.
  // Whatever the limit, a 429 (or a 5xx with Retry-After) pauses every
  // request of this client for the server's Retry-After, else the backoff.
  double qps = 0;
  int burst = 0;
  int max_attempts = 5;  // for retryable failures of idempotent verbs
  absl::Duration backoff_initial = absl::Milliseconds(200);
  absl::Duration backoff_cap = absl::Seconds(10);
  const util::Clock* clock = nullptr;  // null: the wall clock
  std::shared_ptr<TokenSource> token;  // invalidated on 401 (the transport reads it)
  RequestObserver* observer = nullptr;
  const WriteFence* fence = nullptr;                   // consulted before every attempt of a write
  absl::Duration request_timeout = absl::Seconds(30);  // each non-watch exchange
};

class Client {
 public:
  // The automatic mode's limit while the server does not announce APF.
  static constexpr double kAutomaticQps = 50;

  Client(std::unique_ptr<Transport> transport, ClientOptions options);

  // True while the server announces API Priority and Fairness (as of its
  // latest answer to a request).
  bool ServerHasFlowControl() const { return flow_control_.load(std::memory_order_relaxed); }

  absl::StatusOr<Object> Get(const Resource& r, absl::string_view ns, absl::string_view name,
                             absl::string_view subresource = {});
  // ns "" on a namespaced resource lists all namespaces. One page per call.
  absl::StatusOr<ListResult> List(const Resource& r, absl::string_view ns, const ListOptions& opts);
  absl::StatusOr<Object> Create(const Resource& r, absl::string_view ns, absl::string_view json);
  // Replace; the body's metadata.resourceVersion makes it a compare-and-swap.
  absl::StatusOr<Object> Update(const Resource& r, absl::string_view ns, absl::string_view name,
                                absl::string_view json, absl::string_view subresource = {});
  absl::StatusOr<Object> Patch(const Resource& r, absl::string_view ns, absl::string_view name,
                               PatchType type, absl::string_view body,
                               const PatchOptions& opts = {}, absl::string_view subresource = {});
  absl::Status Delete(const Resource& r, absl::string_view ns, absl::string_view name,
                      const DeleteOptions& opts = {});
  // A token of ServiceAccount ns/service_account from the TokenRequest API
  // (POST .../serviceaccounts/<name>/token, as `kubectl create token`): the
  // token itself (status.token), which the client never logs nor puts in an
  // error. Errors as for Create (NotFound: no such ServiceAccount yet).
  absl::StatusOr<std::string> CreateToken(absl::string_view ns, absl::string_view service_account,
                                          const TokenRequestOptions& opts = {});

  // Streams events to on_event as they arrive, until the server ends the watch
  // (OK), on_event returns false (OK), cancel fires (Cancelled), or an error:
  // an HTTP error (e.g. Gone for a too-old resourceVersion), a transport failure,
  // a malformed or truncated stream (InvalidArgument / DataLoss).
  // An ERROR event is passed to on_event and also ends the watch with its status.
  absl::Status Watch(const Resource& r, absl::string_view ns, const WatchOptions& opts,
                     util::Cancellation& cancel, absl::FunctionRef<bool(WatchEvent)> on_event);

 private:
  absl::StatusOr<HttpResponse> Do(absl::string_view verb, HttpRequest req, bool idempotent);
  // Waits for the pause a 429 asked for and for the limiter, if one applies.
  void Throttle(absl::string_view method);
  // Every request of this client waits until now + d (or later).
  void PauseFor(absl::Duration d);
  // Notes whether the server announced APF in this answer.
  void NoteFlowControl(const HttpResponse& resp);

  std::unique_ptr<Transport> transport_;
  const ClientOptions options_;
  util::RealClock real_clock_;
  const util::Clock* clock_;
  util::TokenBucket limiter_;
  std::atomic<bool> flow_control_{false};
  std::mutex pause_mu_;
  absl::Time pause_until_ = absl::InfinitePast();  // guarded by pause_mu_
};

// Converts an ERROR watch event's Status object to the matching error.
absl::Status StatusFromObject(const Object& status);

}  // namespace kube
