// Backoff (util/backoff.h): exponential, jittered, capped, and reset.
#include "util/backoff.h"

#include <algorithm>

#include "gtest/gtest.h"

namespace util {
namespace {

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
