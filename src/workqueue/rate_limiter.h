// RateLimiter: how long a key that failed waits before it is retried — the
// larger of a per-key exponential backoff and an overall token bucket, as
// client-go's DefaultControllerRateLimiter (ItemExponentialFailureRateLimiter
// combined with BucketRateLimiter through MaxOfRateLimiter).
#pragma once

#include <mutex>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "util/clock.h"
#include "util/token_bucket.h"

namespace workqueue {

class RateLimiter {
 public:
  // The n-th failure of a key (n from 0) waits base_delay * 2^n, at most
  // max_delay, and no less than the bucket's reservation; qps <= 0 turns the
  // bucket off. No jitter: a queue's keys are distinct objects, they do not
  // retry in step the way many clients of one server do.
  RateLimiter(absl::Duration base_delay, absl::Duration max_delay, double qps, int burst,
              const util::Clock* clock);

  // Counts a failure of `key` and returns how long it should wait.
  absl::Duration When(absl::string_view key);
  // Forgets the key's failures: its next When starts from base_delay again.
  void Forget(absl::string_view key);
  // Failures counted since the last Forget.
  int NumRequeues(absl::string_view key) const;

 private:
  const absl::Duration base_delay_;
  const absl::Duration max_delay_;
  util::TokenBucket bucket_;  // thread-safe on its own
  // std::mutex, not absl::Mutex: see util::Cancellation (TSan must see it).
  mutable std::mutex mu_;
  absl::flat_hash_map<std::string, int> failures_;  // guarded by mu_
};

}  // namespace workqueue
