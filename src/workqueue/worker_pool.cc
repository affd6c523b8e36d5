#include "workqueue/worker_pool.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "util/log.h"

namespace workqueue {
namespace {

// A random (version 4) UUID naming one reconcile, as controller-runtime's
// reconcileID does: every line of one pass can be found by it.
std::string NewReconcileId() {
  thread_local absl::BitGen gen;
  const uint64_t hi = absl::Uniform<uint64_t>(gen);
  const uint64_t lo = absl::Uniform<uint64_t>(gen);
  return absl::StrFormat("%08x-%04x-4%03x-%04x-%012x", hi >> 32, (hi >> 16) & 0xffff, hi & 0xfff,
                         0x8000 | ((lo >> 48) & 0x3fff), lo & 0xffffffffffffULL);
}

// controller-runtime's reconcile log fields from a "namespace/name" key (a
// cluster-scoped key has no namespace).
std::vector<util::LogField> ReconcileLogFields(const std::string& key) {
  std::vector<util::LogField> fields{{"reconcileID", NewReconcileId()}};
  if (const size_t slash = key.find('/'); slash != std::string::npos) {
    fields.emplace_back("namespace", absl::string_view(key).substr(0, slash));
    fields.emplace_back("name", absl::string_view(key).substr(slash + 1));
  } else {
    fields.emplace_back("name", key);
  }
  return fields;
}

}  // namespace

WorkerPool::WorkerPool(WorkQueue* queue, int workers, ReconcileFn fn, WorkerPoolObserver* observer)
    : queue_(queue), workers_(std::max(1, workers)), fn_(std::move(fn)), observer_(observer) {}

WorkerPool::~WorkerPool() { Stop(absl::InfiniteDuration()); }

void WorkerPool::Start() {
  std::lock_guard l(mu_);
  if (started_ || stopping_) return;
  started_ = true;
  for (int i = 0; i < workers_; ++i) threads_.emplace_back([this] { Run(); });
  spawned_ = workers_;
}

bool WorkerPool::Stop(absl::Duration grace) {
  {
    std::lock_guard l(mu_);
    stopping_ = true;
  }
  // Wakes the workers blocked in Get; they drop what is still queued.
  queue_->ShutDown();
  std::vector<std::thread> threads;
  {
    std::unique_lock l(mu_);
    const auto all_exited = [this] { return AllExited(); };
    if (grace == absl::InfiniteDuration()) {
      exited_cv_.wait(l, all_exited);
    } else {
      // A deadline in absl::Time, which saturates: a huge grace cannot overflow.
      const absl::Time deadline = absl::Now() + grace;
      if (!exited_cv_.wait_until(l, absl::ToChronoTime(deadline), all_exited)) return false;
    }
    threads.swap(threads_);
  }
  for (std::thread& t : threads) t.join();
  return true;
}

int WorkerPool::ActiveWorkers() const {
  std::lock_guard l(mu_);
  return active_;
}

void WorkerPool::Run() {
  while (std::optional<std::string> key = queue_->Get()) Handle(*key);
  std::lock_guard l(mu_);
  ++exited_;
  exited_cv_.notify_all();  // Stop waits for every thread to get here
}

void WorkerPool::Handle(const std::string& key) {
  bool stopping;
  {
    std::lock_guard l(mu_);
    stopping = stopping_;
    if (!stopping) {
      ++active_;
      if (observer_ != nullptr) observer_->ActiveWorkers(active_);
    }
  }
  if (stopping) {
    // Handed out after Stop: not reconciled, only released so that a
    // ShutDownWithDrain elsewhere does not wait for it.
    queue_->Done(key);
    return;
  }

  const auto start = std::chrono::steady_clock::now();
  ReconcileResult result;
  {
    // Every line the reconcile logs on this thread names the key and this pass.
    const util::LogContext log_context(ReconcileLogFields(key));
    // A throwing reconciler must not take the worker thread (and with it the
    // process) down: it failed, like any other error.
    try {
      result = fn_(key);
    } catch (const std::exception& e) {
      result.status = absl::InternalError(absl::StrCat("reconcile threw: ", e.what()));
    } catch (...) {
      result.status = absl::InternalError("reconcile threw");
    }
  }
  const absl::Duration took = absl::FromChrono(std::chrono::steady_clock::now() - start);

  absl::string_view outcome;
  if (!result.status.ok()) {
    queue_->AddRateLimited(key);
    outcome = "error";
  } else if (result.requeue_after.has_value()) {
    queue_->Forget(key);
    queue_->AddAfter(key, *result.requeue_after);
    outcome = "requeue_after";
  } else {
    queue_->Forget(key);
    outcome = "success";
  }
  queue_->Done(key);

  std::lock_guard l(mu_);
  --active_;
  if (observer_ != nullptr) {
    observer_->ReconcileDone(outcome, took);
    observer_->ActiveWorkers(active_);
  }
}

}  // namespace workqueue
