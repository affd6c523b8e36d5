// WorkerPool: the threads that take keys off a WorkQueue and reconcile them,
// and what becomes of a key afterwards (controller-runtime's worker loop).
// Each reconcile runs inside a util::LogContext naming its key (namespace,
// name) and a reconcileID of its own, so the lines of one pass can be followed.
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
};

class WorkerPool {
 public:
  // `queue` must outlive the pool; the pool is its only consumer.
  WorkerPool(WorkQueue* queue, int workers, ReconcileFn fn, WorkerPoolObserver* observer = nullptr);
  // Stop(absl::InfiniteDuration()): waits for every reconcile still running.
  ~WorkerPool();

  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Starts the worker threads. Only the first call does anything.
  void Start();
  // Stops taking new work and waits up to `grace` for in-flight reconciles;
  // returns true if all finished. It shuts the queue down, which is how
  // blocked workers learn of it; keys still queued are not reconciled. When it
  // returns false the stragglers keep running and the destructor waits for them.
  bool Stop(absl::Duration grace);
  // Workers reconciling right now.
  int ActiveWorkers() const;

 private:
  void Run();
  void Handle(const std::string& key);
  bool AllExited() const { return exited_ == spawned_; }  // mu_ held

  WorkQueue* const queue_;
  const int workers_;
  const ReconcileFn fn_;
  WorkerPoolObserver* const observer_;

  // std::mutex, not absl::Mutex: see util::Cancellation (TSan must see it).
  // Everything below is guarded by mu_.
  mutable std::mutex mu_;
  std::condition_variable exited_cv_;  // a worker thread left Run
  bool started_ = false;
  bool stopping_ = false;
  int active_ = 0;
  int spawned_ = 0;  // worker threads started
  int exited_ = 0;   // ... and that have left Run
  // Joined by whichever Stop first sees every thread exited.
  std::vector<std::thread> threads_;
};

}  // namespace workqueue
