#include "util/token_bucket.h"

#include "gtest/gtest.h"
#include "support/fake_clock.h"
#include "util/backoff.h"

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

TEST(BackoffTest, GrowsWithJitterUpToCapAndResets) {
  Backoff b(absl::Milliseconds(800), absl::Seconds(30), 2.0, 0.5);
  absl::Duration base = absl::Milliseconds(800);
  for (int i = 0; i < 10; ++i) {
    absl::Duration d = b.Next();
    EXPECT_GE(d, std::min(base, absl::Seconds(30)));
    EXPECT_LE(d, std::min(base * 1.5, absl::Seconds(30)));
    base *= 2;
  }
  EXPECT_EQ(b.Next(), absl::Seconds(30));
  b.Reset();
  EXPECT_LE(b.Next(), absl::Milliseconds(1200));
}

}  // namespace
}  // namespace util
