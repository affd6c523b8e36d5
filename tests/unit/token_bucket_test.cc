#include "util/token_bucket.h"

#include "gtest/gtest.h"
#include "support/fake_clock.h"

namespace util {
namespace {

TEST(TokenBucketTest, BurstThenQps) {
  testing_support::FakeClock clock;
  TokenBucket b(/*qps=*/10, /*burst=*/3, &clock);
  EXPECT_EQ(b.Reserve(), absl::ZeroDuration());
  EXPECT_EQ(b.Reserve(), absl::ZeroDuration());
  EXPECT_EQ(b.Reserve(), absl::ZeroDuration());
  EXPECT_EQ(b.Reserve(), absl::Milliseconds(100));
  EXPECT_EQ(b.Reserve(), absl::Milliseconds(200));  // queued behind the previous one
  EXPECT_FALSE(b.TryTake());
  clock.Advance(absl::Seconds(1));  // pays back the debt and refills 8 of 3
  EXPECT_TRUE(b.TryTake());
  EXPECT_TRUE(b.TryTake());
  EXPECT_TRUE(b.TryTake());
  EXPECT_FALSE(b.TryTake());
}

TEST(TokenBucketTest, ZeroQpsIsUnlimited) {
  testing_support::FakeClock clock;
  TokenBucket b(0, 0, &clock);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(b.Reserve(), absl::ZeroDuration());
}

}  // namespace
}  // namespace util
