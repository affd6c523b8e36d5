// EnvironmentReconciler: runs the planner for one Environment key and carries
// out its plan through the API client: server-side apply of managed objects,
// the finalizer, the status subresource, Events. The only writer.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "controllers/environment/build_result.h"
#include "controllers/environment/cluster_state.h"
#include "controllers/environment/config.h"
#include "controllers/environment/diagnosis.h"
#include "controllers/environment/pass_memo.h"
#include "informer/store.h"
#include "kube/client.h"
#include "kube/event_recorder.h"
#include "util/clock.h"
#include "workqueue/reconcile_result.h"

namespace controllers {

class RenderSync;

// What the product's own metrics need from reconciles; must be thread-safe.
class ReconcileObserver {
 public:
  virtual ~ReconcileObserver() = default;
  // An Environment reached Ready for the first time, this long after its creation.
  virtual void EnvironmentReady(absl::Duration since_creation) = 0;
};

class EnvironmentReconciler {
 public:
  EnvironmentReconciler(kube::Client* client, const informer::Store* environments,
                        const ClusterState* state, OperatorConfig config, const util::Clock* clock,
                        ReconcileObserver* observer = nullptr, CacheWriter* written = nullptr);

  // key: "<namespace>/<name>" of an Environment. An Environment whose last
  // pass settled (pass_memo.h) and whose inputs are unchanged since is not
  // planned again: the resync of an up-to-date Environment is a few lookups.
  workqueue::ReconcileResult Reconcile(const std::string& key);
  // Passes skipped that way, and Environments remembered as settled.
  int64_t skipped() const { return skipped_.load(std::memory_order_relaxed); }
  size_t settled() const { return memo_.size(); }
  // Where a plan's render request goes (helm mode); before the workers start.
  void SetRenders(RenderSync* renders) { renders_ = renders; }

 private:
  // What carrying out one action came to: done (go on), an error (retry
  // with backoff), wait (stop here: something is going away), or the
  // Environment itself is gone or orphaned. Typed, so that no status code of
  // the API client (a fenced write is FailedPrecondition too) is mistaken
  // for one of these.
  struct Outcome {
    enum class Kind { kDone, kError, kWait, kEnvironmentGone, kOrphaned };
    Kind kind = Kind::kDone;
    absl::Status status;
  };
  Outcome Execute(const struct Action& action, const kube::Object& env);
  // The API server's answer to a write: into the caches (write once), and done.
  Outcome Wrote(const kube::Resource& r, absl::StatusOr<kube::Object> answer);
  Outcome DeleteIfOwned(const struct Action& action);
  Outcome NotFoundOutcome(const kube::Object& env, absl::Status not_found);
  workqueue::ReconcileResult Orphaned(const std::string& key, const kube::Object& env,
                                      std::vector<Mark> reads, const absl::Status& why);
  static constexpr absl::Duration kOrphanRetry = absl::Minutes(5);
  void RecordEvent(const kube::Object& env, const std::string& type, const std::string& reason,
                   const std::string& message);
  std::optional<Diagnosis> Diagnose(const std::string& key, absl::string_view ns,
                                    absl::string_view selector);
  std::optional<BuildResult> ReadBuild(const std::string& key, absl::string_view ns,
                                       absl::string_view job_uid);
  workqueue::ReconcileResult Failed(const std::string& key, const kube::Object& env,
                                    const struct Action& a, const absl::Status& s);
  void PhaseChanged(const std::string& key, const kube::Object& env, const struct Plan& plan);

  kube::Client* const client_;
  const informer::Store* const environments_;
  const ClusterState* const state_;
  RenderSync* renders_ = nullptr;
  const OperatorConfig config_;
  const util::Clock* const clock_;
  ReconcileObserver* const observer_;
  CacheWriter* const written_;
  const kube::EventRecorder events_;
  PassMemo memo_;
  std::atomic<int64_t> skipped_{0};
};

}  // namespace controllers
