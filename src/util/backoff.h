// Backoff: jittered exponential delays (client-go's wait.Backoff with jitter).
#pragma once

#include <algorithm>

#include "absl/random/random.h"
#include "absl/time/time.h"

namespace util {

class Backoff {
 public:
  // Delays grow initial, initial*factor, ... up to cap, each stretched by up
  // to `jitter` (0.5 → +0..50%) so that many clients do not retry in step.
  Backoff(absl::Duration initial, absl::Duration cap, double factor = 2.0, double jitter = 0.5)
      : initial_(initial), cap_(cap), factor_(factor), jitter_(jitter), next_(initial) {}

  absl::Duration Next() {
    const absl::Duration base = next_;
    next_ = std::min(cap_, next_ * factor_);
    if (jitter_ <= 0) return base;
    return std::min(cap_, base * (1.0 + absl::Uniform(bitgen_, 0.0, jitter_)));
  }
  void Reset() { next_ = initial_; }

 private:
  const absl::Duration initial_, cap_;
  const double factor_, jitter_;
  absl::Duration next_;
  absl::BitGen bitgen_;
};

}  // namespace util
