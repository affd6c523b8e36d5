#include "workqueue/worker_pool.h"

#include <atomic>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/fake_clock.h"

namespace workqueue {
namespace {

using ::testing::ElementsAre;

constexpr absl::Duration kTestTimeout = absl::Seconds(10);

// Polls `done` until it holds or kTestTimeout passes.
bool Eventually(const std::function<bool()>& done) {
  const absl::Time deadline = absl::Now() + kTestTimeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

class RecordingObserver : public WorkerPoolObserver {
 public:
  void ReconcileDone(absl::string_view result, absl::Duration) override {
    absl::MutexLock l(&mu_);
    results_.emplace_back(result);
  }
  void ActiveWorkers(int n) override {
    absl::MutexLock l(&mu_);
    active_.push_back(n);
  }
  std::vector<std::string> results() const {
    absl::MutexLock l(&mu_);
    return results_;
  }
  std::vector<int> active() const {
    absl::MutexLock l(&mu_);
    return active_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> results_ ABSL_GUARDED_BY(mu_);
  std::vector<int> active_ ABSL_GUARDED_BY(mu_);
};

class WorkerPoolTest : public ::testing::Test {
 protected:
  WorkerPoolTest() : queue_(WorkQueueOptions{.name = "test", .clock = &clock_}) {}

  // Results reported so far.
  size_t Reported() const { return observer_.results().size(); }

  testing_support::FakeClock clock_;
  RecordingObserver observer_;
  WorkQueue queue_;
};

TEST_F(WorkerPoolTest, SuccessForgetsTheKeyAndReleasesIt) {
  std::atomic<int> calls{0};
  WorkerPool pool(
      &queue_, 2,
      [&](const std::string& key) {
        EXPECT_EQ(key, "k");
        ++calls;
        return ReconcileResult{};
      },
      &observer_);
  pool.Start();
  queue_.AddRateLimited("k");  // one earlier failure, to see it forgotten
  clock_.Advance(absl::Milliseconds(5));
  ASSERT_TRUE(Eventually([&] { return Reported() == 1; }));
  EXPECT_EQ(queue_.NumRequeues("k"), 0);
  queue_.Add("k");  // Done was called: the key can be handed out again
  ASSERT_TRUE(Eventually([&] { return Reported() == 2; }));
  EXPECT_EQ(calls.load(), 2);
  EXPECT_THAT(observer_.results(), ElementsAre("success", "success"));
  EXPECT_TRUE(pool.Stop(kTestTimeout));
}

TEST_F(WorkerPoolTest, ErrorIsRetriedWithBackoffUntilItSucceeds) {
  std::atomic<int> calls{0};
  WorkerPool pool(
      &queue_, 2,
      [&](const std::string&) {
        return ReconcileResult{++calls <= 2 ? absl::UnavailableError("not yet") : absl::OkStatus()};
      },
      &observer_);
  pool.Start();
  queue_.Add("k");
  ASSERT_TRUE(Eventually([&] { return Reported() == 1; }));
  EXPECT_EQ(queue_.NumRequeues("k"), 1);
  EXPECT_EQ(queue_.Len(), 0u);  // waiting out its backoff
  clock_.Advance(absl::Milliseconds(5));
  ASSERT_TRUE(Eventually([&] { return Reported() == 2; }));
  EXPECT_EQ(queue_.NumRequeues("k"), 2);
  clock_.Advance(absl::Milliseconds(9));
  EXPECT_EQ(queue_.Len(), 0u);  // the second backoff is 10 ms
  clock_.Advance(absl::Milliseconds(1));
  ASSERT_TRUE(Eventually([&] { return Reported() == 3; }));
  EXPECT_EQ(queue_.NumRequeues("k"), 0);
  EXPECT_EQ(calls.load(), 3);
  EXPECT_THAT(observer_.results(), ElementsAre("error", "error", "success"));
  EXPECT_TRUE(pool.Stop(kTestTimeout));
}

TEST_F(WorkerPoolTest, RequeueAfterForgetsTheBackoffAndAddsTheKeyLater) {
  std::atomic<int> calls{0};
  WorkerPool pool(
      &queue_, 1,
      [&](const std::string&) {
        ReconcileResult r;
        if (++calls == 1) r.requeue_after = absl::Seconds(30);
        return r;
      },
      &observer_);
  queue_.AddRateLimited("k");
  clock_.Advance(absl::Milliseconds(5));
  pool.Start();
  ASSERT_TRUE(Eventually([&] { return Reported() == 1; }));
  EXPECT_EQ(queue_.NumRequeues("k"), 0);
  clock_.Advance(absl::Seconds(29));
  EXPECT_EQ(queue_.Len(), 0u);
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(Eventually([&] { return Reported() == 2; }));
  EXPECT_THAT(observer_.results(), ElementsAre("requeue_after", "success"));
  EXPECT_TRUE(pool.Stop(kTestTimeout));
}

TEST_F(WorkerPoolTest, ExceptionIsAnErrorAndTheWorkerCarriesOn) {
  std::atomic<int> boom_calls{0};
  WorkerPool pool(
      &queue_, 1,
      [&](const std::string& key) -> ReconcileResult {
        if (key == "boom" && ++boom_calls == 1) throw std::runtime_error("boom");
        if (key == "int") throw 42;
        return {};
      },
      &observer_);
  pool.Start();
  queue_.Add("boom");
  queue_.Add("int");
  queue_.Add("fine");
  ASSERT_TRUE(Eventually([&] { return Reported() == 3; }));
  EXPECT_THAT(observer_.results(), ElementsAre("error", "error", "success"));
  EXPECT_EQ(queue_.NumRequeues("boom"), 1);
  EXPECT_EQ(queue_.NumRequeues("int"), 1);
  clock_.Advance(absl::Milliseconds(5));  // "boom" is retried, and now succeeds
  EXPECT_TRUE(Eventually([&] { return boom_calls.load() == 2; }));
  EXPECT_TRUE(pool.Stop(kTestTimeout));
}

TEST_F(WorkerPoolTest, ActiveWorkersCountsReconcilesInProgress) {
  absl::Notification release;
  WorkerPool pool(
      &queue_, 3,
      [&](const std::string&) {
        release.WaitForNotification();
        return ReconcileResult{};
      },
      &observer_);
  pool.Start();
  EXPECT_EQ(pool.ActiveWorkers(), 0);
  for (const char* key : {"a", "b", "c"}) queue_.Add(key);
  ASSERT_TRUE(Eventually([&] { return pool.ActiveWorkers() == 3; }));
  EXPECT_THAT(observer_.active(), ElementsAre(1, 2, 3));
  release.Notify();
  ASSERT_TRUE(Eventually([&] { return pool.ActiveWorkers() == 0; }));
  ASSERT_TRUE(Eventually([&] { return observer_.active().back() == 0; }));
  EXPECT_TRUE(pool.Stop(kTestTimeout));
}

TEST_F(WorkerPoolTest, StopWaitsForTheReconcileInProgressAndDropsQueuedKeys) {
  absl::Notification started, release;
  std::atomic<int> calls{0};
  WorkerPool pool(&queue_, 1, [&](const std::string&) {
    ++calls;
    started.Notify();
    release.WaitForNotification();
    return ReconcileResult{};
  });
  pool.Start();
  queue_.Add("first");
  ASSERT_TRUE(started.WaitForNotificationWithTimeout(kTestTimeout));
  queue_.Add("second");
  std::atomic<bool> stopped{false};
  std::thread stopper([&] { stopped = pool.Stop(kTestTimeout); });
  EXPECT_TRUE(Eventually([&] { return queue_.ShuttingDown(); }));
  release.Notify();
  stopper.join();
  EXPECT_TRUE(stopped.load());
  EXPECT_EQ(calls.load(), 1);  // "second" was queued when Stop came: not reconciled
  EXPECT_EQ(pool.ActiveWorkers(), 0);
}

TEST_F(WorkerPoolTest, StopGivesUpAfterTheGraceAndTheDestructorWaits) {
  absl::Notification started, release;
  std::atomic<bool> finished{false};
  {
    WorkerPool pool(&queue_, 1, [&](const std::string&) {
      started.Notify();
      release.WaitForNotification();
      finished = true;
      return ReconcileResult{};
    });
    pool.Start();
    queue_.Add("slow");
    ASSERT_TRUE(started.WaitForNotificationWithTimeout(kTestTimeout));
    EXPECT_FALSE(pool.Stop(absl::Milliseconds(20)));
    EXPECT_EQ(pool.ActiveWorkers(), 1);
    release.Notify();
  }
  EXPECT_TRUE(finished.load());
}

TEST_F(WorkerPoolTest, StopWithoutStartAndStopTwiceAreHarmless) {
  {
    WorkerPool pool(&queue_, 2, [](const std::string&) { return ReconcileResult{}; });
    EXPECT_TRUE(pool.Stop(absl::ZeroDuration()));
    pool.Start();  // after Stop: does nothing
    EXPECT_TRUE(pool.Stop(absl::ZeroDuration()));
  }
  WorkQueue other(WorkQueueOptions{.name = "other", .clock = &clock_});
  WorkerPool pool(&other, 2, [](const std::string&) { return ReconcileResult{}; });
  pool.Start();
  EXPECT_TRUE(pool.Stop(kTestTimeout));
  EXPECT_TRUE(pool.Stop(kTestTimeout));
}

}  // namespace
}  // namespace workqueue
