// Cancellation: a flag shared by a caller and whatever it started (an
// in-flight request, a waiting loop, a worker).
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/time/time.h"

namespace util {

// A flag shared by a caller and an in-flight request. Cancel() may be called
// from any thread at any moment; the request then ends promptly.
//
// (The concurrency core uses std::mutex, not absl::Mutex: Debian's abseil is
// not built for ThreadSanitizer, which then cannot see its synchronisation.)
class Cancellation {
 public:
  void Cancel();
  bool cancelled() const;
  // Waits (real time) until cancelled or timeout; true if cancelled.
  bool WaitFor(absl::Duration timeout) const;
  // Runs fn on Cancel(), or at once if already cancelled. Returns an id for Remove.
  int OnCancel(std::function<void()> fn);
  // Unregisters; once it returns, the callback is not running and never will,
  // so what it captured may be destroyed. Not to be called from a callback.
  void Remove(int id);

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool cancelled_ = false;  // guarded by mu_
  bool running_ = false;    // callbacks are running outside mu_
  int next_id_ = 0;
  std::vector<std::pair<int, std::function<void()>>> callbacks_;
};

}  // namespace util
