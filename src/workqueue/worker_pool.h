// WorkerPool: the threads that take keys off a WorkQueue and reconcile them,
// and what becomes of a key afterwards (controller-runtime's worker loop).
// Each reconcile runs inside a util::LogContext naming its key (namespace,
// name) and a reconcileID of its own, so the lines of one pass can be followed.
//
// A watchdog finds reconciles that have run for longer than a timeout: a hang
// in a reconcile (a parser that does not terminate, a request that never
// returns) takes its worker for good, and nothing else would say so. Each one
// is logged once and counted (WorkerPoolObserver::StuckWorkers), so that the
// process's liveness probe can fail and the pod be restarted.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "util/clock.h"
#include "workqueue/reconcile_result.h"
#include "workqueue/work_queue.h"

namespace workqueue {

// What the pool reports (backed by Prometheus in the operations layer). Called
// from the worker threads, with the pool's lock held so that the gauge follows
// the order of changes: be quick, do not call back into the pool.
class WorkerPoolObserver {
 public:
  virtual ~WorkerPoolObserver() = default;
  // result: "success", "error" or "requeue_after"; took: the reconcile's wall time.
  virtual void ReconcileDone(absl::string_view result, absl::Duration took) = 0;
  // Workers busy reconciling now.
  virtual void ActiveWorkers(int n) = 0;
  // Workers in one reconcile for longer than the reconcile timeout now;
  // called when the count changes. Not pure: observers without a timeout
  // need not care.
  virtual void StuckWorkers(int /*n*/) {}
};

struct WorkerPoolOptions {
  // A reconcile running for longer than this is stuck: logged once at error
  // level (its key, reconcileID and how long), counted in StuckWorkers() and
  // reported to the observer until it finishes. Zero: never stuck.
  absl::Duration reconcile_timeout = absl::ZeroDuration();
  // How often the watchdog thread looks (the delay before a stuck reconcile is
  // seen). Zero: a quarter of reconcile_timeout, within 100 ms..10 s.
  // Infinite: no thread; the owner calls CheckStuck (tests).
  absl::Duration check_interval = absl::ZeroDuration();
  // Null: a monotonic clock, so that a step of the wall clock never makes a
  // reconcile look stuck.
  const util::Clock* clock = nullptr;
};

class WorkerPool {
 public:
  // `queue` must outlive the pool; the pool is its only consumer.
  WorkerPool(WorkQueue* queue, int workers, ReconcileFn fn, WorkerPoolObserver* observer = nullptr,
             WorkerPoolOptions options = {});
  // Stop(absl::InfiniteDuration()): waits for every reconcile still running.
  ~WorkerPool();

  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Starts the worker threads (and the watchdog, with a reconcile timeout).
  // Only the first call does anything.
  void Start();
  // Stops taking new work and waits up to `grace` for in-flight reconciles;
  // returns true if all finished. It shuts the queue down, which is how
  // blocked workers learn of it; keys still queued are not reconciled. When it
  // returns false the stragglers keep running (each is logged) and the
  // destructor waits for them. The watchdog stops at once.
  bool Stop(absl::Duration grace);
  // Workers reconciling right now.
  int ActiveWorkers() const;

  // What the watchdog does every check_interval: every reconcile now past the
  // reconcile timeout that was not yet is marked stuck, logged and reported.
  // Returns StuckWorkers().
  int CheckStuck();
  // Workers in a reconcile found stuck by a check and not finished since.
  int StuckWorkers() const;

 private:
  // The reconcile a worker is in; key "" while it waits for one.
  struct InFlight {
    std::string key;
    std::string reconcile_id;
    absl::Time started;
    bool stuck = false;  // found past the timeout (and logged)
  };

  void Run(int worker);
  void Handle(int worker, const std::string& key);
  void Watch();
  absl::Time Now() const;
  bool AllExited() const { return exited_ == spawned_; }  // mu_ held

  WorkQueue* const queue_;
  const int workers_;
  const ReconcileFn fn_;
  WorkerPoolObserver* const observer_;
  const WorkerPoolOptions options_;

  // std::mutex, not absl::Mutex: see util::Cancellation (TSan must see it).
  // Everything below is guarded by mu_.
  mutable std::mutex mu_;
  std::condition_variable exited_cv_;  // a worker thread left Run
  bool started_ = false;
  bool stopping_ = false;
  int active_ = 0;
  int spawned_ = 0;                  // worker threads started
  int exited_ = 0;                   // ... and that have left Run
  std::vector<InFlight> in_flight_;  // by worker
  int stuck_ = 0;                    // in_flight_ entries marked stuck
  // Joined by whichever Stop first sees every thread exited.
  std::vector<std::thread> threads_;
  std::condition_variable watchdog_cv_;  // stopping_ was set
  std::thread watchdog_;                 // joined by the first Stop
};

}  // namespace workqueue
