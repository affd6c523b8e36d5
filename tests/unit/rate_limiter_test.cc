// RateLimiter (workqueue/rate_limiter.h): the per-key backoff of requeues.
#include "workqueue/rate_limiter.h"

#include <vector>

#include "gtest/gtest.h"
#include "support/fake_clock.h"

namespace workqueue {
namespace {

TEST(RateLimiterTest, BackoffDoublesFromTheBaseUpToTheCapAndForgetResets) {
  testing_support::FakeClock clock;
  RateLimiter limiter(absl::Milliseconds(5), absl::Seconds(1), /*qps=*/0, /*burst=*/0, &clock);
  const std::vector<absl::Duration> want = {absl::Milliseconds(5),   absl::Milliseconds(10),
                                            absl::Milliseconds(20),  absl::Milliseconds(40),
                                            absl::Milliseconds(80),  absl::Milliseconds(160),
                                            absl::Milliseconds(320), absl::Milliseconds(640),
                                            absl::Seconds(1),        absl::Seconds(1)};
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(limiter.When("k"), want[i]) << "failure " << i;
    EXPECT_EQ(limiter.NumRequeues("k"), static_cast<int>(i + 1));
  }
  for (int i = 0; i < 2000; ++i) limiter.When("k");  // 2^2000 must not overflow
  EXPECT_EQ(limiter.When("k"), absl::Seconds(1));
  EXPECT_EQ(limiter.When("other"), absl::Milliseconds(5));  // per key
  limiter.Forget("k");
  EXPECT_EQ(limiter.NumRequeues("k"), 0);
  EXPECT_EQ(limiter.When("k"), absl::Milliseconds(5));
}

}  // namespace
}  // namespace workqueue
