// Notification: a one-shot event, as absl::Notification, on std primitives so
// that ThreadSanitizer sees its synchronisation (Debian's abseil is not built
// for TSan). For the tests that run in the concurrency binary.
#pragma once

#include <condition_variable>
#include <mutex>

#include "absl/time/time.h"

namespace testing_support {

class Notification {
 public:
  // Idempotent, unlike absl::Notification's.
  void Notify() {
    {
      std::lock_guard l(mu_);
      notified_ = true;
    }
    cv_.notify_all();
  }
  bool HasBeenNotified() const {
    std::lock_guard l(mu_);
    return notified_;
  }
  void WaitForNotification() const {
    std::unique_lock l(mu_);
    cv_.wait(l, [this] { return notified_; });
  }
  // True if notified within `timeout` (real time).
  bool WaitForNotificationWithTimeout(absl::Duration timeout) const {
    if (timeout == absl::InfiniteDuration()) {
      WaitForNotification();
      return true;
    }
    std::unique_lock l(mu_);
    return cv_.wait_until(l, absl::ToChronoTime(absl::Now() + timeout),
                          [this] { return notified_; });
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool notified_ = false;  // guarded by mu_
};

}  // namespace testing_support
