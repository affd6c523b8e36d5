// FakeClock: time that moves only when a test (or a SleepFor) moves it.
#pragma once

#include <mutex>

#include "util/clock.h"

namespace testing_support {

class FakeClock final : public util::Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'700'000'000)) : now_(start) {}
  absl::Time Now() const override {
    std::lock_guard l(mu_);
    return now_;
  }
  // Sleeping advances time at once and records how long was slept.
  void SleepFor(absl::Duration d) const override {
    std::lock_guard l(mu_);
    now_ += d;
    slept_ += d;
  }
  void Advance(absl::Duration d) {
    std::lock_guard l(mu_);
    now_ += d;
  }
  absl::Duration slept() const {
    std::lock_guard l(mu_);
    return slept_;
  }

 private:
  mutable std::mutex mu_;
  mutable absl::Time now_;
  mutable absl::Duration slept_;
};

}  // namespace testing_support
