// The work queue and worker pool under many threads: a key is never out to two
// workers at once, no add is lost, delayed keys all come due. Run under TSan.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "support/notification.h"
#include "util/log.h"
#include "workqueue/work_queue.h"
#include "workqueue/worker_pool.h"

namespace workqueue {
namespace {

constexpr int kKeys = 4;
const std::array<std::string, kKeys> kKeyNames = {"ns/a", "ns/b", "ns/c", "ns/d"};

int IndexOf(const std::string& key) {
  return static_cast<int>(std::find(kKeyNames.begin(), kKeyNames.end(), key) - kKeyNames.begin());
}

TEST(WorkQueueConcurrencyTest, NoKeyIsHandedToTwoThreadsAtOnce) {
  WorkQueue q(WorkQueueOptions{
      .name = "race", .base_delay = absl::Microseconds(50), .max_delay = absl::Milliseconds(1)});
  std::array<std::atomic<int>, kKeys> in_flight{};
  std::atomic<int> overlaps{0}, processed{0};
  auto process = [&](const std::string& key) {
    const int i = IndexOf(key);
    if (in_flight[i].fetch_add(1) != 0) ++overlaps;
    std::this_thread::yield();  // widen the window
    in_flight[i].fetch_sub(1);
    ++processed;
    q.Done(key);
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      std::minstd_rand rng(t + 1);
      for (int n = 0; n < 2000; ++n) {
        const std::string& key = kKeyNames[rng() % kKeys];
        switch (rng() % 8) {
          case 0:
          case 1:
          case 2:
            q.Add(key);
            break;
          case 3:
          case 4:
            q.Add(key, Priority::kLow);
            break;
          case 5:
            q.AddAfter(key, absl::Microseconds(rng() % 200));
            break;
          case 6:
            q.AddRateLimited(key);
            break;
          default:
            q.Forget(key);
        }
        if (std::optional<std::string> key = q.Get(absl::Microseconds(rng() % 100))) process(*key);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  q.ShutDown();
  while (std::optional<std::string> key = q.Get()) process(*key);
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_GT(processed.load(), 0);
  EXPECT_EQ(q.Len(), 0u);
  EXPECT_EQ(q.UnfinishedWork(), absl::ZeroDuration());
}

TEST(WorkQueueConcurrencyTest, EveryAddIsFollowedByAProcessingOfTheKey) {
  WorkQueue q(WorkQueueOptions{.name = "lost"});
  // A producer bumps a key's version before adding it; a consumer reads the
  // version once it holds the key. The last processing of every key must have
  // seen its last version: an add that came while the key was out was kept.
  std::array<std::atomic<int>, kKeys> version{}, seen{};
  std::vector<std::thread> consumers;
  for (int t = 0; t < 8; ++t) {
    consumers.emplace_back([&] {
      while (std::optional<std::string> key = q.Get()) {
        const int i = IndexOf(*key);
        seen[i].store(version[i].load());
        std::this_thread::yield();
        q.Done(*key);
      }
    });
  }
  std::vector<std::thread> producers;
  for (int t = 0; t < 8; ++t) {
    producers.emplace_back([&, t] {
      std::minstd_rand rng(t + 100);
      for (int n = 0; n < 2000; ++n) {
        const int i = static_cast<int>(rng() % kKeys);
        version[i].fetch_add(1);
        q.Add(kKeyNames[i], rng() % 2 ? Priority::kHigh : Priority::kLow);
      }
    });
  }
  for (std::thread& t : producers) t.join();
  q.ShutDownWithDrain();  // consumers still empty the queue after this returns
  for (std::thread& t : consumers) t.join();
  for (int i = 0; i < kKeys; ++i) EXPECT_EQ(seen[i].load(), version[i].load()) << kKeyNames[i];
  EXPECT_EQ(q.Len(), 0u);
}

TEST(WorkQueueConcurrencyTest, DelayedKeysAllComeDueForBlockedGets) {
  WorkQueue q(WorkQueueOptions{.name = "delayed"});
  constexpr int kProducers = 8, kPerProducer = 200, kTotal = kProducers * kPerProducer;
  std::mutex mu;
  absl::flat_hash_set<std::string> got;  // guarded by mu
  int duplicates = 0;                    // guarded by mu
  testing_support::Notification all_in;
  std::vector<std::thread> consumers;
  for (int t = 0; t < 4; ++t) {
    consumers.emplace_back([&] {
      while (std::optional<std::string> key = q.Get()) {
        q.Done(*key);
        std::lock_guard l(mu);
        if (!got.insert(*key).second) ++duplicates;
        if (got.size() == kTotal) all_in.Notify();
      }
    });
  }
  std::vector<std::thread> producers;
  for (int t = 0; t < kProducers; ++t) {
    producers.emplace_back([&, t] {
      std::minstd_rand rng(t + 200);
      for (int n = 0; n < kPerProducer; ++n)
        q.AddAfter(absl::StrCat("k", t, "-", n), absl::Microseconds(rng() % 3000));
    });
  }
  for (std::thread& t : producers) t.join();
  EXPECT_TRUE(all_in.WaitForNotificationWithTimeout(absl::Seconds(30)));
  q.ShutDown();
  for (std::thread& t : consumers) t.join();
  std::lock_guard l(mu);
  EXPECT_EQ(got.size(), static_cast<size_t>(kTotal));
  EXPECT_EQ(duplicates, 0);
}

TEST(WorkerPoolConcurrencyTest, AKeyIsNeverReconciledTwiceAtOnce) {
  WorkQueue q(WorkQueueOptions{
      .name = "pool", .base_delay = absl::Microseconds(100), .max_delay = absl::Milliseconds(1)});
  std::array<std::atomic<int>, kKeys> in_flight{};
  std::atomic<int> overlaps{0}, reconciles{0};
  WorkerPool pool(&q, 8, [&](const std::string& key) {
    thread_local std::minstd_rand rng(std::hash<std::thread::id>()(std::this_thread::get_id()));
    const int i = IndexOf(key);
    if (in_flight[i].fetch_add(1) != 0) ++overlaps;
    std::this_thread::yield();
    in_flight[i].fetch_sub(1);
    ++reconciles;
    ReconcileResult r;
    switch (rng() % 8) {
      case 0:
        r.status = absl::UnavailableError("flaky");
        break;
      case 1:
        throw std::runtime_error("flakier");
      case 2:
        r.requeue_after = absl::Microseconds(rng() % 500);
        break;
      default:
        break;
    }
    return r;
  });
  pool.Start();
  // Producers keep the keys coming until the workers have done enough rounds.
  constexpr int kRounds = 5000;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  std::vector<std::thread> producers;
  for (int t = 0; t < 4; ++t) {
    producers.emplace_back([&, t] {
      std::minstd_rand rng(t + 300);
      while (reconciles.load() < kRounds && absl::Now() < deadline) {
        q.Add(kKeyNames[rng() % kKeys], rng() % 2 ? Priority::kHigh : Priority::kLow);
        std::this_thread::yield();
      }
    });
  }
  for (std::thread& t : producers) t.join();
  EXPECT_TRUE(pool.Stop(absl::Seconds(30)));
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_GE(reconciles.load(), kRounds);
  EXPECT_EQ(pool.ActiveWorkers(), 0);
}

// The stuck-reconcile count under a watchdog looking every millisecond, a
// second checker and reconciles on both sides of a 1 ms timeout: it stays
// within 0..workers, what the observer is told ends where the pool is, and
// everything is back to 0 once the reconciles are done.
TEST(WorkerPoolConcurrencyTest, TheStuckCountStaysRightWhileWorkersComeAndGo) {
  class Observer final : public WorkerPoolObserver {
   public:
    void ReconcileDone(absl::string_view, absl::Duration) override {}
    void ActiveWorkers(int) override {}
    void StuckWorkers(int n) override {
      std::lock_guard l(mu);
      if (n < 0 || n > 8) ++out_of_range;
      last = n;
    }
    std::mutex mu;
    int last = 0, out_of_range = 0;
  } observer;
  // A thousand "reconcile stuck" lines say nothing here (they are logged
  // from every thread all the same).
  class Discard final : public util::LogSink {
   public:
    void Write(util::LogLevel, absl::string_view, absl::string_view,
               absl::Span<const util::LogField>) override {}
  } discard;
  util::SetLogSink(&discard);
  WorkQueue q(WorkQueueOptions{.name = "stuck"});
  std::atomic<int> reconciles{0};
  WorkerPool pool(
      &q, 8,
      [&](const std::string&) {
        thread_local std::minstd_rand rng(std::hash<std::thread::id>()(std::this_thread::get_id()));
        // Half the reconciles outlast the timeout.
        if (rng() % 2) std::this_thread::sleep_for(std::chrono::microseconds(500 + rng() % 2000));
        ++reconciles;
        return ReconcileResult{};
      },
      &observer,
      WorkerPoolOptions{.reconcile_timeout = absl::Milliseconds(1),
                        .check_interval = absl::Microseconds(200)});
  pool.Start();
  constexpr int kRounds = 2000;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  std::atomic<bool> done{false};
  std::thread checker([&] {
    while (!done.load()) {
      const int n = pool.CheckStuck();
      if (n < 0 || n > 8) ADD_FAILURE() << "stuck " << n;
    }
  });
  std::minstd_rand rng(7);
  while (reconciles.load() < kRounds && absl::Now() < deadline) {
    q.Add(kKeyNames[rng() % kKeys]);
    std::this_thread::yield();
  }
  // Let the last reconciles end before stopping, so none is cut off stuck.
  const absl::Time drained = absl::Now() + absl::Seconds(30);
  while (pool.ActiveWorkers() > 0 && absl::Now() < drained) std::this_thread::yield();
  done = true;
  checker.join();
  EXPECT_TRUE(pool.Stop(absl::Seconds(30)));
  util::SetLogSink(nullptr);
  EXPECT_GE(reconciles.load(), kRounds);
  EXPECT_EQ(pool.StuckWorkers(), 0);
  std::lock_guard l(observer.mu);
  EXPECT_EQ(observer.out_of_range, 0);
  EXPECT_EQ(observer.last, 0);
}

}  // namespace
}  // namespace workqueue
