// TokenBucket: a QPS/burst limiter shared by threads (client-go's flowcontrol).
#pragma once

#include <mutex>

#include "absl/time/time.h"
#include "util/clock.h"

namespace util {

class TokenBucket {
 public:
  // qps <= 0 means unlimited: Reserve() is then always zero.
  TokenBucket(double qps, int burst, const Clock* clock);

  // Takes one token and returns how long the caller must wait before using it
  // (zero when one was there). Reservations queue fairly in call order.
  absl::Duration Reserve();
  // Takes a token only if one is there now.
  bool TryTake();

 private:
  void Refill(absl::Time now);

  const double qps_;
  const double burst_;
  const Clock* const clock_;
  std::mutex mu_;
  double tokens_;
  absl::Time last_;
};

}  // namespace util
