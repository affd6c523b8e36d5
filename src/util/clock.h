// Clock: the one source of "now" and of waiting, so tests can drive time by hand.
#pragma once

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace util {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  // Blocks the calling thread for d (a fake clock advances itself instead).
  virtual void SleepFor(absl::Duration d) const = 0;
};

// The wall clock.
class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  void SleepFor(absl::Duration d) const override { absl::SleepFor(d); }
};

}  // namespace util
