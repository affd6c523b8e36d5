// FakeClock: time that moves only when a test (or a SleepFor) moves it.
#pragma once

#include "absl/synchronization/mutex.h"
#include "util/clock.h"

namespace testing_support {

class FakeClock final : public util::Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'700'000'000)) : now_(start) {}
  absl::Time Now() const override {
    absl::MutexLock l(&mu_);
    return now_;
  }
  // Sleeping advances time at once and records how long was slept.
  void SleepFor(absl::Duration d) const override {
    absl::MutexLock l(&mu_);
    now_ += d;
    slept_ += d;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock l(&mu_);
    now_ += d;
  }
  absl::Duration slept() const {
    absl::MutexLock l(&mu_);
    return slept_;
  }

 private:
  mutable absl::Mutex mu_;
  mutable absl::Time now_;
  mutable absl::Duration slept_;
};

}  // namespace testing_support
