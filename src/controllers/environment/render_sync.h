// RenderSync: renders each Environment's Helm chart (chart_render.h) and
// confines the output (rendered.h) off the workers' path, as SecretsSync
// fetches the team's secrets: threads of its own, a bounded number of renders
// at once, a backoff per Environment, so a slow clone or a stuck chart delays
// nobody's reconcile. The planner asks (Want) for the render of a request
// and reads the latest outcome (Get), comparing its digest with the request's;
// a stored outcome is handed to `changed` (the work queue). docs/development.md,
// "Deployment templates"; docs/contract.md, "Rendered charts".
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "controllers/environment/chart_render.h"
#include "controllers/environment/render_request.h"
#include "controllers/environment/rendered.h"
#include "kube/object.h"
#include "util/clock.h"

namespace controllers {

// What the planner asks to have rendered for one Environment.
// RenderRequest, RenderOutcome: render_request.h (what the planner reads too).

// What renders a request: the real one mints the token (if installation_id)
// and calls RenderChart; tests fake it. Called from RenderSync's threads,
// several at once (RenderSyncOptions::concurrency).
class ChartRenderer {
 public:
  virtual ~ChartRenderer() = default;
  virtual absl::StatusOr<RenderResult> Render(const RenderRequest& request) = 0;
};

// The real renderer: git_token(ns, installation_id) -> token when the request
// has an installation id (injected: git_token.h's GitTokenForNamespace with
// the operator's client and web app bound); RenderOptions as given (work_dir,
// bounds, programs), with release, ns and values_yaml from the request; the
// ChartSource from the request. A git token error keeps its code, except that
// a failed mint the API server answered NotFound (a new namespace's `default`
// ServiceAccount not made yet) or 429/5xx becomes Unavailable: retried, as
// the web app's own refusals (Unauthenticated, PermissionDenied) are. No
// git_token with an installation id: FailedPrecondition.
std::unique_ptr<ChartRenderer> NewChartRenderer(
    RenderOptions options,
    std::function<absl::StatusOr<std::string>(const std::string& ns,
                                              const std::string& installation_id)>
        git_token);

// Renders by result (OK or the failure's code, after confinement) and their
// latency (the renderer and ConfineRendered together); thread-safe.
class RenderObserver {
 public:
  virtual ~RenderObserver() = default;
  virtual void Rendered(absl::StatusCode result, absl::Duration took) = 0;
};

struct RenderSyncOptions {
  ChartRenderer* renderer = nullptr;  // not owned
  int concurrency = 1;                // renders at once (each may use max_memory_bytes)
  // After a transient failure: this, doubling, up to max_backoff. Short at
  // first: a new namespace's `default` ServiceAccount (whose token asks for
  // the git token) is made by the controller-manager a moment after the
  // namespace, and the first render of nearly every private chart meets that.
  absl::Duration first_backoff = absl::Seconds(1), max_backoff = absl::Minutes(5);
  RenderLimits limits;                 // for ConfineRendered
  RenderObserver* observer = nullptr;  // not owned; optional
};

// Transient: worth rendering the same request again later (the network, the
// operator's installation, the web app refusing the token for now).
// Unavailable, DeadlineExceeded, Internal, FailedPrecondition,
// PermissionDenied, Unauthenticated. Anything else (InvalidArgument,
// NotFound, ResourceExhausted, ...) is final for that digest: the same
// request would fail the same way.
bool RenderRetryable(absl::StatusCode code);

class RenderSync {
 public:
  // changed(key): an outcome was stored for that Environment (called from
  // RenderSync's threads, or RunOnce's caller; never with a lock held).
  RenderSync(RenderSyncOptions options, const util::Clock* clock,
             std::function<void(const std::string&)> changed);
  ~RenderSync();

  // Threads: one that retries what is due (every second), `concurrency`
  // that render.
  void Start();
  // Idempotent; joins, and is final (no second Start). A render in flight is
  // waited for (bounded by its own timeouts); queued ones are abandoned.
  void Stop();

  // Asks for the render of request (never blocks on a render; thread-safe).
  // Nothing happens if request.Digest() is the one already wanted for
  // request.env_key (rendering, backing off, or answered: a retry waits for
  // its backoff), nor if it is not but the stored outcome answers it and is
  // final. Otherwise it replaces the wanted request and is rendered at once
  // (after Start: queued now; before it: the next RunOnce). The newest wins:
  // a render in flight for an older digest finishes, but its outcome is
  // dropped (no changed) and the newest is rendered next, so a stored
  // outcome never answers a request older than the one stored before it.
  // The outcome stored meanwhile stays until the new one replaces it.
  void Want(const RenderRequest& request);

  // The latest outcome for an Environment (any digest: the planner compares
  // digests), or null. Thread-safe.
  std::shared_ptr<const RenderOutcome> Get(const std::string& env_key) const;
  // Set, and replaced, whenever an outcome appears for a key that had none.
  std::shared_ptr<const kube::CacheMark> AddMark() const;

  // The Environment is gone or no longer in helm mode: drop its outcome (its
  // mark set) and wanted request; a render in flight for it is discarded.
  // No changed: the caller is the one who knows.
  void Forget(const std::string& env_key);

  // One round on the calling thread (tests): renders what is due (a new
  // digest at once, a transient failure after its backoff). After Start it
  // only queues them for the render threads.
  void RunOnce();

 private:
  struct Entry {
    RenderRequest request;   // the newest wanted
    std::string digest;      // request.Digest()
    absl::Time due;          // render then; InfiniteFuture: answered for good
    absl::Duration backoff;  // zero: no transient failure of this digest yet
    uint64_t ticket = 0;     // the render queued or in flight for this entry (0: none)
    std::shared_ptr<const RenderOutcome> outcome;  // the latest stored
    bool outcome_final = false;                    // outcome will not be retried
  };
  void Loop();
  void RenderLoop();
  std::pair<std::string, uint64_t> Queue(const std::string& key, Entry& e);  // mu_ held
  void Render(const std::string& key, uint64_t ticket);
  void Publish(const std::string& key, uint64_t ticket, RenderOutcome outcome);  // mu_ not held

  RenderSyncOptions options_;
  const util::Clock* const clock_;
  const std::function<void(const std::string&)> changed_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool threaded_ = false;
  uint64_t next_ticket_ = 1;
  absl::flat_hash_map<std::string, Entry> entries_;
  std::shared_ptr<const kube::CacheMark> add_mark_ = std::make_shared<const kube::CacheMark>();
  std::deque<std::pair<std::string, uint64_t>> pending_;  // (key, ticket) to render
  std::vector<std::thread> threads_;
};

}  // namespace controllers
