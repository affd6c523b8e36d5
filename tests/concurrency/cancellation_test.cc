// Cancellation is shared between a watch thread and whoever stops it.
#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "kube/transport.h"
#include "support/fake_clock.h"
#include "util/token_bucket.h"

namespace kube {
namespace {

TEST(CancellationConcurrencyTest, EveryCallbackRunsExactlyOnceUnderRaces) {
  for (int round = 0; round < 50; ++round) {
    Cancellation c;
    std::atomic<int> ran{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 20; ++i) {
          int id = c.OnCancel([&] { ran.fetch_add(1); });
          if (i % 3 == 0) c.Remove(id);  // may race with Cancel: ran or removed, never both
        }
      });
    }
    threads.emplace_back([&] { c.Cancel(); });
    threads.emplace_back([&] { c.Cancel(); });
    for (auto& t : threads) t.join();
    EXPECT_TRUE(c.cancelled());
    // 8 threads x 20 registrations; a third of them removed unless Cancel won.
    EXPECT_GE(ran.load(), 8 * 13);
    EXPECT_LE(ran.load(), 8 * 20);
  }
}

TEST(TokenBucketConcurrencyTest, HandsOutExactlyTheBurst) {
  testing_support::FakeClock clock;
  util::TokenBucket bucket(/*qps=*/1, /*burst=*/100, &clock);
  std::atomic<int> taken{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) taken += bucket.TryTake();
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(taken.load(), 100);
}

}  // namespace
}  // namespace kube
