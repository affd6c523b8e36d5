#include "workqueue/worker_pool.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "util/log.h"

namespace workqueue {
namespace {

constexpr absl::string_view kLogger = "workqueue";

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
std::vector<util::LogField> ReconcileLogFields(const std::string& key, const std::string& id) {
  std::vector<util::LogField> fields{{"reconcileID", id}};
  if (const size_t slash = key.find('/'); slash != std::string::npos) {
    fields.emplace_back("namespace", absl::string_view(key).substr(0, slash));
    fields.emplace_back("name", absl::string_view(key).substr(slash + 1));
  } else {
    fields.emplace_back("name", key);
  }
  return fields;
}

// A duration for a log line, to the millisecond.
std::string Took(absl::Duration d) {
  return absl::FormatDuration(absl::Trunc(d, absl::Milliseconds(1)));
}

// A line about a reconcile from outside its own LogContext (the watchdog,
// Stop, after it ended): with the fields its own lines carry, so that one
// query finds them all.
void LogReconcile(util::LogLevel level, absl::string_view msg, const std::string& key,
                  const std::string& id, std::initializer_list<util::LogField> more) {
  if (!util::LogEnabled(level)) return;
  std::vector<util::LogField> fields = ReconcileLogFields(key, id);
  fields.insert(fields.end(), more.begin(), more.end());
  const util::LogContext context(fields);
  util::Log(level, kLogger, msg);
}

}  // namespace

WorkerPool::WorkerPool(WorkQueue* queue, int workers, ReconcileFn fn, WorkerPoolObserver* observer,
                       WorkerPoolOptions options)
    : queue_(queue),
      workers_(std::max(1, workers)),
      fn_(std::move(fn)),
      observer_(observer),
      options_(options),
      in_flight_(static_cast<size_t>(workers_)) {}

WorkerPool::~WorkerPool() { Stop(absl::InfiniteDuration()); }

void WorkerPool::Start() {
  std::lock_guard l(mu_);
  if (started_ || stopping_) return;
  started_ = true;
  for (int i = 0; i < workers_; ++i) threads_.emplace_back([this, i] { Run(i); });
  spawned_ = workers_;
  if (options_.reconcile_timeout > absl::ZeroDuration() &&
      options_.check_interval != absl::InfiniteDuration())
    watchdog_ = std::thread([this] { Watch(); });
}

bool WorkerPool::Stop(absl::Duration grace) {
  std::thread watchdog;
  {
    std::lock_guard l(mu_);
    stopping_ = true;
    watchdog.swap(watchdog_);
  }
  watchdog_cv_.notify_all();
  if (watchdog.joinable()) watchdog.join();
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
      if (!exited_cv_.wait_until(l, absl::ToChronoTime(deadline), all_exited)) {
        // Who holds up the shutdown, for whoever reads the log after the
        // kubelet's SIGKILL.
        std::vector<InFlight> stragglers;
        for (const InFlight& f : in_flight_)
          if (!f.key.empty()) stragglers.push_back(f);
        const absl::Time now = Now();
        l.unlock();
        for (const InFlight& f : stragglers)
          LogReconcile(util::LogLevel::kWarn, "reconcile still running at shutdown", f.key,
                       f.reconcile_id,
                       {{"runningFor", Took(now - f.started)}, {"grace", Took(grace)}});
        return false;
      }
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

int WorkerPool::StuckWorkers() const {
  std::lock_guard l(mu_);
  return stuck_;
}

absl::Time WorkerPool::Now() const {
  if (options_.clock != nullptr) return options_.clock->Now();
  return absl::UnixEpoch() + absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch());
}

int WorkerPool::CheckStuck() {
  if (options_.reconcile_timeout <= absl::ZeroDuration()) return 0;
  struct Found {
    std::string key, reconcile_id;
    absl::Duration running;
  };
  std::vector<Found> found;
  int stuck;
  {
    std::lock_guard l(mu_);
    const absl::Time now = Now();
    for (InFlight& f : in_flight_) {
      if (f.key.empty() || f.stuck || now - f.started <= options_.reconcile_timeout) continue;
      f.stuck = true;
      ++stuck_;
      found.push_back({f.key, f.reconcile_id, now - f.started});
    }
    if (!found.empty() && observer_ != nullptr) observer_->StuckWorkers(stuck_);
    stuck = stuck_;
  }
  // Once per stuck reconcile, not per check: the line says which
  // Environment to look at, the count says it is still going on.
  for (const Found& f : found)
    LogReconcile(util::LogLevel::kError,
                 "reconcile stuck: running longer than the reconcile timeout", f.key,
                 f.reconcile_id,
                 {{"runningFor", Took(f.running)},
                  {"reconcileTimeout", Took(options_.reconcile_timeout)},
                  {"stuckWorkers", stuck}});
  return stuck;
}

void WorkerPool::Watch() {
  const absl::Duration every =
      options_.check_interval > absl::ZeroDuration()
          ? options_.check_interval
          : std::clamp(options_.reconcile_timeout / 4, absl::Milliseconds(100), absl::Seconds(10));
  std::unique_lock l(mu_);
  while (
      !watchdog_cv_.wait_for(l, absl::ToChronoNanoseconds(every), [this] { return stopping_; })) {
    l.unlock();
    CheckStuck();
    l.lock();
  }
}

void WorkerPool::Run(int worker) {
  while (std::optional<std::string> key = queue_->Get()) Handle(worker, *key);
  std::lock_guard l(mu_);
  ++exited_;
  exited_cv_.notify_all();  // Stop waits for every thread to get here
}

void WorkerPool::Handle(int worker, const std::string& key) {
  const std::string reconcile_id = NewReconcileId();
  bool stopping;
  {
    std::lock_guard l(mu_);
    stopping = stopping_;
    if (!stopping) {
      ++active_;
      in_flight_[worker] = {.key = key, .reconcile_id = reconcile_id, .started = Now()};
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
    const util::LogContext log_context(ReconcileLogFields(key, reconcile_id));
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

  bool was_stuck;
  absl::Duration ran;  // on the clock that found it stuck
  {
    std::lock_guard l(mu_);
    --active_;
    was_stuck = in_flight_[worker].stuck;
    ran = Now() - in_flight_[worker].started;
    in_flight_[worker] = {};
    if (was_stuck) --stuck_;
    if (observer_ != nullptr) {
      observer_->ReconcileDone(outcome, took);
      observer_->ActiveWorkers(active_);
      if (was_stuck) observer_->StuckWorkers(stuck_);
    }
  }
  // The error line said it was stuck; this one says it is not any more.
  if (was_stuck)
    LogReconcile(util::LogLevel::kWarn, "stuck reconcile finished", key, reconcile_id,
                 {{"took", Took(ran)}, {"result", outcome}});
}

}  // namespace workqueue
