#include "workqueue/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace workqueue {

RateLimiter::RateLimiter(absl::Duration base_delay, absl::Duration max_delay, double qps, int burst,
                         const util::Clock* clock)
    : base_delay_(base_delay), max_delay_(max_delay), bucket_(qps, burst, clock) {}

absl::Duration RateLimiter::When(absl::string_view key) {
  int exp;
  {
    std::lock_guard l(mu_);
    exp = failures_[key]++;
  }
  // 2^exp in double stays exact up to far beyond any useful cap, and absl's
  // Duration arithmetic saturates instead of overflowing.
  const absl::Duration per_key =
      std::min(max_delay_, base_delay_ * std::ldexp(1.0, std::min(exp, 1000)));
  // Taken even when the per-key delay is longer, as client-go's MaxOf does:
  // every retry spends a token.
  return std::max(per_key, bucket_.Reserve());
}

void RateLimiter::Forget(absl::string_view key) {
  std::lock_guard l(mu_);
  failures_.erase(key);
}

int RateLimiter::NumRequeues(absl::string_view key) const {
  std::lock_guard l(mu_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

}  // namespace workqueue
