#include "util/token_bucket.h"

#include <algorithm>

namespace util {

TokenBucket::TokenBucket(double qps, int burst, const Clock* clock)
    : qps_(qps), burst_(std::max(1, burst)), clock_(clock), tokens_(burst_), last_(clock->Now()) {}

void TokenBucket::Refill(absl::Time now) {
  if (now > last_) {
    tokens_ = std::min(burst_, tokens_ + absl::ToDoubleSeconds(now - last_) * qps_);
    last_ = now;
  }
}

absl::Duration TokenBucket::Reserve() {
  if (qps_ <= 0) return absl::ZeroDuration();
  std::lock_guard l(mu_);
  Refill(clock_->Now());
  tokens_ -= 1;  // may go negative: later callers wait behind earlier ones
  return tokens_ >= 0 ? absl::ZeroDuration() : absl::Seconds(-tokens_ / qps_);
}

bool TokenBucket::TryTake() {
  if (qps_ <= 0) return true;
  std::lock_guard l(mu_);
  Refill(clock_->Now());
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

}  // namespace util
