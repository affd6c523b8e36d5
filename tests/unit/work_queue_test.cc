#include "workqueue/work_queue.h"

#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/fake_clock.h"

namespace workqueue {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr absl::Duration kTestTimeout = absl::Seconds(10);

// Hands out every ready key (marking each Done) in the order Get returns them.
std::vector<std::string> Drain(WorkQueue& q) {
  std::vector<std::string> keys;
  while (std::optional<std::string> key = q.Get(absl::ZeroDuration())) {
    keys.push_back(*key);
    q.Done(*key);
  }
  return keys;
}

class WorkQueueTest : public ::testing::Test {
 protected:
  WorkQueueOptions Options() {
    WorkQueueOptions opts;
    opts.name = "test";
    opts.clock = &clock_;
    return opts;
  }
  testing_support::FakeClock clock_;
};

TEST_F(WorkQueueTest, AddingAQueuedKeyAgainQueuesItOnce) {
  WorkQueue q(Options());
  q.Add("a");
  q.Add("b");
  q.Add("a");
  q.Add("a", Priority::kLow);
  EXPECT_EQ(q.Len(), 2u);
  EXPECT_THAT(Drain(q), ElementsAre("a", "b"));
  EXPECT_EQ(q.Len(), 0u);
}

TEST_F(WorkQueueTest, KeyReAddedWhileProcessingIsHandedOutAgainOnlyAfterDone) {
  WorkQueue q(Options());
  q.Add("a");
  ASSERT_EQ(q.Get(absl::ZeroDuration()), "a");
  q.Add("a");
  q.Add("a");
  EXPECT_EQ(q.Len(), 0u);
  EXPECT_EQ(q.Get(absl::ZeroDuration()), std::nullopt);  // still out
  q.Done("a");
  EXPECT_EQ(q.Len(), 1u);
  EXPECT_THAT(Drain(q), ElementsAre("a"));  // once, however often it was re-added
}

TEST_F(WorkQueueTest, KeyReAddedWhileProcessingKeepsTheHigherPriority) {
  WorkQueue q(Options());
  q.Add("a");
  ASSERT_EQ(q.Get(absl::ZeroDuration()), "a");
  q.Add("low", Priority::kLow);
  q.Add("a", Priority::kLow);
  q.Add("a", Priority::kHigh);
  q.Add("a", Priority::kLow);
  q.Done("a");
  EXPECT_THAT(Drain(q), ElementsAre("a", "low"));

  q.Add("b");
  ASSERT_EQ(q.Get(absl::ZeroDuration()), "b");
  q.Add("low", Priority::kLow);
  q.Add("b", Priority::kLow);
  q.Done("b");
  EXPECT_THAT(Drain(q), ElementsAre("low", "b"));  // both kLow: FIFO
}

TEST_F(WorkQueueTest, DoneOfAKeyNotHandedOutIsIgnored) {
  WorkQueue q(Options());
  q.Add("a");
  q.Done("a");
  q.Done("never-added");
  EXPECT_THAT(Drain(q), ElementsAre("a"));
}

TEST_F(WorkQueueTest, AddRateLimitedWaitsTheKeysBackoff) {
  WorkQueueOptions opts = Options();
  opts.max_delay = absl::Milliseconds(40);
  WorkQueue q(opts);
  const absl::Duration want[] = {absl::Milliseconds(5), absl::Milliseconds(10),
                                 absl::Milliseconds(20), absl::Milliseconds(40),
                                 absl::Milliseconds(40)};
  for (int i = 0; i < 5; ++i) {
    q.AddRateLimited("k");
    EXPECT_EQ(q.NumRequeues("k"), i + 1);
    clock_.Advance(want[i] - absl::Milliseconds(1));
    EXPECT_EQ(q.Get(absl::ZeroDuration()), std::nullopt) << "retry " << i << " came early";
    clock_.Advance(absl::Milliseconds(1));
    EXPECT_THAT(Drain(q), ElementsAre("k")) << "retry " << i;
  }
  q.Forget("k");
  EXPECT_EQ(q.NumRequeues("k"), 0);
  q.AddRateLimited("k");
  clock_.Advance(absl::Milliseconds(5));
  EXPECT_THAT(Drain(q), ElementsAre("k"));
}

TEST_F(WorkQueueTest, AddAfterHandsKeysOutInTimeOrder) {
  WorkQueue q(Options());
  q.AddAfter("c", absl::Milliseconds(30));
  q.AddAfter("a", absl::Milliseconds(10));
  q.AddAfter("b", absl::Milliseconds(20));
  q.AddAfter("b2", absl::Milliseconds(20));
  EXPECT_EQ(q.Len(), 0u);
  EXPECT_THAT(Drain(q), IsEmpty());
  clock_.Advance(absl::Milliseconds(10));
  EXPECT_THAT(Drain(q), ElementsAre("a"));
  clock_.Advance(absl::Milliseconds(25));  // b, b2 and c all due: in time order, ties FIFO
  EXPECT_EQ(q.Len(), 3u);
  EXPECT_THAT(Drain(q), ElementsAre("b", "b2", "c"));
}

TEST_F(WorkQueueTest, AddAfterKeepsTheEarlierOfTwoTimes) {
  WorkQueue q(Options());
  q.AddAfter("k", absl::Milliseconds(50));
  q.AddAfter("k", absl::Milliseconds(100));  // later: ignored
  clock_.Advance(absl::Milliseconds(50));
  EXPECT_THAT(Drain(q), ElementsAre("k"));
  clock_.Advance(absl::Milliseconds(100));
  EXPECT_THAT(Drain(q), IsEmpty());

  q.AddAfter("k", absl::Milliseconds(100));
  q.AddAfter("k", absl::Milliseconds(10));  // earlier: replaces
  clock_.Advance(absl::Milliseconds(10));
  EXPECT_THAT(Drain(q), ElementsAre("k"));
  clock_.Advance(absl::Milliseconds(100));
  EXPECT_THAT(Drain(q), IsEmpty());
}

TEST_F(WorkQueueTest, AddAfterWithoutAPositiveDelayIsAdd) {
  WorkQueue q(Options());
  q.Add("low", Priority::kLow);
  q.AddAfter("zero", absl::ZeroDuration());
  q.AddAfter("negative", absl::Seconds(-1));
  EXPECT_EQ(q.Len(), 3u);
  EXPECT_THAT(Drain(q), ElementsAre("zero", "negative", "low"));  // as kHigh
}

TEST_F(WorkQueueTest, DelayedKeyAlreadyQueuedIsHandedOutOnce) {
  WorkQueue q(Options());
  q.Add("k");
  q.AddAfter("k", absl::Milliseconds(10));
  clock_.Advance(absl::Milliseconds(10));
  EXPECT_THAT(Drain(q), ElementsAre("k"));
}

TEST_F(WorkQueueTest, HighPriorityKeysGoFirstAndEachPriorityIsFifo) {
  WorkQueue q(Options());
  q.Add("l1", Priority::kLow);
  q.Add("h1");
  q.Add("l2", Priority::kLow);
  q.Add("h2", Priority::kHigh);
  q.Add("l3", Priority::kLow);
  EXPECT_EQ(q.Len(), 5u);
  EXPECT_THAT(Drain(q), ElementsAre("h1", "h2", "l1", "l2", "l3"));
}

TEST_F(WorkQueueTest, LowKeyReAddedAsHighIsPromotedAndHighIsNeverDemoted) {
  WorkQueue q(Options());
  q.Add("l1", Priority::kLow);
  q.Add("l2", Priority::kLow);
  q.Add("h1");
  q.Add("l2", Priority::kHigh);  // to the back of the kHigh keys
  q.Add("h1", Priority::kLow);   // stays kHigh
  EXPECT_EQ(q.Len(), 3u);
  EXPECT_THAT(Drain(q), ElementsAre("h1", "l2", "l1"));
}

TEST_F(WorkQueueTest, ResyncFloodDoesNotDelayALiveKey) {
  WorkQueue q(Options());
  for (int i = 0; i < 10000; ++i) q.Add(absl::StrCat("resync-", i), Priority::kLow);
  clock_.Advance(absl::Milliseconds(500));  // within the aging bound
  q.Add("live");
  EXPECT_EQ(q.Get(absl::ZeroDuration()), "live");
}

TEST_F(WorkQueueTest, AgedLowKeysTakeTurnsWithNewerHighKeys) {
  WorkQueueOptions opts = Options();
  opts.max_low_priority_wait = absl::Seconds(1);
  WorkQueue q(opts);
  q.Add("l1", Priority::kLow);
  q.Add("l2", Priority::kLow);
  q.Add("l3", Priority::kLow);
  clock_.Advance(absl::Milliseconds(1001));
  q.Add("h1");
  q.Add("h2");
  q.Add("h3");
  q.Add("h4");
  EXPECT_THAT(Drain(q), ElementsAre("l1", "h1", "l2", "h2", "l3", "h3", "h4"));
}

TEST_F(WorkQueueTest, LowKeysWaitWhileWithinTheAgingBound) {
  WorkQueueOptions opts = Options();
  opts.max_low_priority_wait = absl::Seconds(1);
  WorkQueue q(opts);
  q.Add("l1", Priority::kLow);
  clock_.Advance(absl::Seconds(1));  // exactly the bound: not yet aged
  q.Add("h1");
  q.Add("h2");
  EXPECT_EQ(q.Get(absl::ZeroDuration()), "h1");
  clock_.Advance(absl::Milliseconds(1));  // now aged
  EXPECT_EQ(q.Get(absl::ZeroDuration()), "l1");
  EXPECT_EQ(q.Get(absl::ZeroDuration()), "h2");
}

TEST_F(WorkQueueTest, AgedLowKeyDoesNotOvertakeOlderHighKeys) {
  WorkQueue q(Options());
  q.Add("h1");
  q.Add("h2");
  clock_.Advance(absl::Milliseconds(1));
  q.Add("l1", Priority::kLow);
  clock_.Advance(absl::Seconds(5));
  q.Add("h3");
  EXPECT_THAT(Drain(q), ElementsAre("h1", "h2", "l1", "h3"));
}

TEST_F(WorkQueueTest, TokenBucketDelaysRateLimitedKeysWhenOn) {
  WorkQueueOptions opts = Options();
  opts.base_delay = absl::Milliseconds(1);
  opts.qps = 10;
  opts.burst = 2;
  WorkQueue q(opts);
  for (const char* key : {"a", "b", "c", "d"}) q.AddRateLimited(key);
  clock_.Advance(absl::Milliseconds(1));  // the burst: per-key backoff only
  EXPECT_THAT(Drain(q), ElementsAre("a", "b"));
  clock_.Advance(absl::Milliseconds(98));
  EXPECT_THAT(Drain(q), IsEmpty());
  clock_.Advance(absl::Milliseconds(1));  // 100 ms: one token at 10 qps
  EXPECT_THAT(Drain(q), ElementsAre("c"));
  clock_.Advance(absl::Milliseconds(100));
  EXPECT_THAT(Drain(q), ElementsAre("d"));
}

TEST_F(WorkQueueTest, TokenBucketIsOffByDefault) {
  WorkQueue q(Options());
  for (int i = 0; i < 100; ++i) q.AddRateLimited(absl::StrCat("k", i));
  clock_.Advance(absl::Milliseconds(5));
  EXPECT_EQ(Drain(q).size(), 100u);
}

TEST_F(WorkQueueTest, ShutDownHandsOutWhatIsQueuedThenNullopt) {
  WorkQueue q(Options());
  q.Add("a");
  q.Add("b", Priority::kLow);
  q.AddAfter("delayed", absl::Milliseconds(1));
  q.ShutDown();
  EXPECT_TRUE(q.ShuttingDown());
  q.Add("after");
  q.AddAfter("after", absl::ZeroDuration());
  q.AddRateLimited("after");
  clock_.Advance(absl::Seconds(1));  // delayed keys were dropped
  EXPECT_EQ(q.Get(), "a");
  EXPECT_EQ(q.Get(), "b");
  EXPECT_EQ(q.Get(), std::nullopt);  // does not block
  EXPECT_EQ(q.Get(absl::ZeroDuration()), std::nullopt);
}

TEST_F(WorkQueueTest, KeyReAddedBeforeShutDownIsQueuedAgainOnDone) {
  WorkQueue q(Options());
  q.Add("a");
  ASSERT_EQ(q.Get(), "a");
  q.Add("a");
  q.ShutDown();
  EXPECT_EQ(q.Get(absl::ZeroDuration()), std::nullopt);
  q.Done("a");
  EXPECT_EQ(q.Get(), "a");
  q.Done("a");
  EXPECT_EQ(q.Get(), std::nullopt);
}

TEST_F(WorkQueueTest, ShutDownWakesABlockedGet) {
  WorkQueue q(Options());
  absl::Notification returned;
  std::optional<std::string> got = "unset";
  std::thread t([&] {
    got = q.Get();
    returned.Notify();
  });
  q.ShutDown();
  EXPECT_TRUE(returned.WaitForNotificationWithTimeout(kTestTimeout));
  t.join();
  EXPECT_EQ(got, std::nullopt);
}

TEST_F(WorkQueueTest, ShutDownWithDrainWaitsForEveryKeyHandedOut) {
  WorkQueue q(Options());
  q.Add("a");
  q.Add("b");
  ASSERT_EQ(q.Get(), "a");
  absl::Notification drained;
  std::thread t([&] {
    q.ShutDownWithDrain();
    drained.Notify();
  });
  // "b" is still queued and "a" out: the drain must not finish on its own.
  EXPECT_FALSE(drained.WaitForNotificationWithTimeout(absl::Milliseconds(50)));
  EXPECT_EQ(q.Get(), "b");  // queued keys are still handed out while draining
  q.Done("a");
  EXPECT_FALSE(drained.WaitForNotificationWithTimeout(absl::Milliseconds(50)));
  q.Done("b");
  EXPECT_TRUE(drained.WaitForNotificationWithTimeout(kTestTimeout));
  t.join();
  EXPECT_EQ(q.Get(), std::nullopt);
}

TEST_F(WorkQueueTest, BlockingGetWakesOnAdd) {
  WorkQueue q(Options());
  absl::Notification returned;
  std::optional<std::string> got;
  std::thread t([&] {
    got = q.Get();
    returned.Notify();
  });
  q.Add("k");
  EXPECT_TRUE(returned.WaitForNotificationWithTimeout(kTestTimeout));
  t.join();
  EXPECT_EQ(got, "k");
}

TEST_F(WorkQueueTest, BlockingGetNoticesAnAdvancedFakeClock) {
  WorkQueue q(Options());
  q.AddAfter("k", absl::Hours(1));
  absl::Notification returned;
  std::optional<std::string> got;
  std::thread t([&] {
    got = q.Get();
    returned.Notify();
  });
  clock_.Advance(absl::Hours(1));
  EXPECT_TRUE(returned.WaitForNotificationWithTimeout(kTestTimeout));
  t.join();
  EXPECT_EQ(got, "k");
}

TEST(WorkQueueRealClockTest, BlockingGetWakesWhenADelayedKeyIsDue) {
  WorkQueue q(WorkQueueOptions{.name = "real"});
  const absl::Time start = absl::Now();
  q.AddAfter("k", absl::Milliseconds(20));
  EXPECT_EQ(q.Get(kTestTimeout), "k");
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(20));
}

TEST(WorkQueueRealClockTest, GetWithATimeoutGivesUp) {
  WorkQueue q(WorkQueueOptions{.name = "real"});
  q.AddAfter("later", absl::Hours(1));
  const absl::Time start = absl::Now();
  EXPECT_EQ(q.Get(absl::Milliseconds(10)), std::nullopt);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(10));
}

TEST_F(WorkQueueTest, LenCountsReadyKeysNotDelayedOnes) {
  WorkQueue q(Options());
  q.Add("a");
  q.Add("b", Priority::kLow);
  q.AddAfter("c", absl::Milliseconds(10));
  q.AddAfter("a", absl::Milliseconds(10));  // already queued when due
  EXPECT_EQ(q.Len(), 2u);
  clock_.Advance(absl::Milliseconds(10));
  EXPECT_EQ(q.Len(), 3u);  // due, though nobody has called in since
  EXPECT_THAT(Drain(q), ElementsAre("a", "c", "b"));
}

// Records what the queue reports.
class RecordingMetrics : public QueueMetrics {
 public:
  void Depth(absl::string_view queue, int64_t depth) override {
    absl::MutexLock l(&mu_);
    EXPECT_EQ(queue, "test");
    depth_ = depth;
  }
  void Add(absl::string_view) override {
    absl::MutexLock l(&mu_);
    ++adds_;
  }
  void QueueLatency(absl::string_view, absl::Duration d) override {
    absl::MutexLock l(&mu_);
    latencies_.push_back(d);
  }
  void WorkDuration(absl::string_view, absl::Duration d) override {
    absl::MutexLock l(&mu_);
    work_.push_back(d);
  }
  void Retry(absl::string_view) override {
    absl::MutexLock l(&mu_);
    ++retries_;
  }

  mutable absl::Mutex mu_;
  int64_t depth_ = -1;
  int adds_ = 0;
  int retries_ = 0;
  std::vector<absl::Duration> latencies_;
  std::vector<absl::Duration> work_;
};

TEST_F(WorkQueueTest, ReportsMetricsAndUnfinishedWork) {
  RecordingMetrics m;
  WorkQueueOptions opts = Options();
  opts.metrics = &m;
  WorkQueue q(opts);
  q.Add("a");
  q.Add("a");
  q.Add("b", Priority::kLow);
  {
    absl::MutexLock l(&m.mu_);
    EXPECT_EQ(m.adds_, 2);
    EXPECT_EQ(m.depth_, 2);
  }
  clock_.Advance(absl::Milliseconds(3));
  ASSERT_EQ(q.Get(), "a");
  clock_.Advance(absl::Milliseconds(7));
  ASSERT_EQ(q.Get(), "b");
  EXPECT_EQ(q.UnfinishedWork(), absl::Milliseconds(7));
  EXPECT_EQ(q.LongestRunning(), absl::Milliseconds(7));
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_EQ(q.UnfinishedWork(), absl::Milliseconds(8 + 1));
  EXPECT_EQ(q.LongestRunning(), absl::Milliseconds(8));
  q.Done("a");
  q.AddRateLimited("a");
  q.Done("b");
  EXPECT_EQ(q.UnfinishedWork(), absl::ZeroDuration());
  EXPECT_EQ(q.LongestRunning(), absl::ZeroDuration());
  absl::MutexLock l(&m.mu_);
  EXPECT_EQ(m.depth_, 0);
  EXPECT_EQ(m.retries_, 1);
  EXPECT_THAT(m.latencies_, ElementsAre(absl::Milliseconds(3), absl::Milliseconds(10)));
  EXPECT_THAT(m.work_, ElementsAre(absl::Milliseconds(8), absl::Milliseconds(1)));
}

}  // namespace
}  // namespace workqueue
