#include "workqueue/worker_pool.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/fake_clock.h"
#include "support/notification.h"
#include "util/log.h"

namespace workqueue {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;
using testing_support::Notification;

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
    std::lock_guard l(mu_);
    results_.emplace_back(result);
  }
  void ActiveWorkers(int n) override {
    std::lock_guard l(mu_);
    active_.push_back(n);
  }
  std::vector<std::string> results() const {
    std::lock_guard l(mu_);
    return results_;
  }
  std::vector<int> active() const {
    std::lock_guard l(mu_);
    return active_;
  }
  void StuckWorkers(int n) override {
    std::lock_guard l(mu_);
    stuck_.push_back(n);
  }
  std::vector<int> stuck() const {
    std::lock_guard l(mu_);
    return stuck_;
  }

 private:
  // std::mutex, not absl::Mutex: ThreadSanitizer must see it (Debian's
  // abseil is not built for it).
  mutable std::mutex mu_;
  std::vector<std::string> results_;  // guarded by mu_
  std::vector<int> active_;           // guarded by mu_
  std::vector<int> stuck_;            // guarded by mu_
};

// The lines logged while it lives, each with its fields as text.
class CapturedLog final : public util::LogSink {
 public:
  struct Line {
    util::LogLevel level;
    std::string logger, msg;
    std::map<std::string, std::string> fields;
  };
  CapturedLog() { util::SetLogSink(this); }
  ~CapturedLog() override { util::SetLogSink(nullptr); }
  void Write(util::LogLevel level, absl::string_view logger, absl::string_view msg,
             absl::Span<const util::LogField> fields) override {
    Line line{level, std::string(logger), std::string(msg), {}};
    for (const util::LogField& f : fields) line.fields[f.key] = absl::StrCat(f.value);
    std::lock_guard l(mu_);
    lines_.push_back(std::move(line));
  }
  // The lines whose message starts with msg.
  std::vector<Line> With(absl::string_view msg) const {
    std::lock_guard l(mu_);
    std::vector<Line> out;
    std::copy_if(lines_.begin(), lines_.end(), std::back_inserter(out),
                 [&](const Line& line) { return absl::StartsWith(line.msg, msg); });
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Line> lines_;
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
  Notification release;
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
  Notification started, release;
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
  Notification started, release;
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

// Stuck reconciles. The pool reads the fake clock; the watchdog thread is off
// (an infinite check_interval) unless a test is about the thread itself, so
// each check is the test's own CheckStuck.
constexpr absl::Duration kReconcileTimeout = absl::Minutes(5);

WorkerPoolOptions ManualChecks(const util::Clock* clock) {
  return {.reconcile_timeout = kReconcileTimeout,
          .check_interval = absl::InfiniteDuration(),
          .clock = clock};
}

TEST_F(WorkerPoolTest, AReconcileLongerThanTheTimeoutIsStuckUntilItFinishes) {
  Notification started, release;
  WorkerPool pool(
      &queue_, 2,
      [&](const std::string& key) {
        if (key == "ns/slow") {
          started.Notify();
          release.WaitForNotification();
        }
        return ReconcileResult{};
      },
      &observer_, ManualChecks(&clock_));
  pool.Start();
  queue_.Add("ns/slow");
  ASSERT_TRUE(started.WaitForNotificationWithTimeout(kTestTimeout));
  clock_.Advance(kReconcileTimeout);
  EXPECT_EQ(pool.CheckStuck(), 0) << "exactly the timeout is not longer than it";
  EXPECT_THAT(observer_.stuck(), IsEmpty());
  // The other worker keeps reconciling, and its quick passes are never stuck.
  queue_.Add("ns/quick");
  ASSERT_TRUE(Eventually([&] { return Reported() == 1; }));
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_EQ(pool.CheckStuck(), 1);
  EXPECT_EQ(pool.StuckWorkers(), 1);
  EXPECT_THAT(observer_.stuck(), ElementsAre(1));
  clock_.Advance(absl::Hours(1));
  EXPECT_EQ(pool.CheckStuck(), 1) << "still the same one";
  EXPECT_THAT(observer_.stuck(), ElementsAre(1)) << "reported when the count changes only";

  release.Notify();
  ASSERT_TRUE(Eventually([&] { return pool.StuckWorkers() == 0; }));
  EXPECT_THAT(observer_.stuck(), ElementsAre(1, 0));
  EXPECT_EQ(pool.CheckStuck(), 0);
  EXPECT_TRUE(pool.Stop(kTestTimeout));
}

TEST_F(WorkerPoolTest, AStuckReconcileIsLoggedOnceWithItsKeyAndReconcileId) {
  CapturedLog log;
  Notification release[2];
  std::atomic<int> passes{0};
  WorkerPool pool(
      &queue_, 1,
      [&](const std::string&) {
        util::Log(util::LogLevel::kInfo, "environment", "reconciling");
        release[passes++].WaitForNotification();
        return ReconcileResult{};
      },
      &observer_, ManualChecks(&clock_));
  pool.Start();
  queue_.Add("team-a/preview");
  ASSERT_TRUE(Eventually([&] { return passes.load() == 1; }));
  clock_.Advance(kReconcileTimeout + absl::Seconds(1));
  for (int check = 0; check < 5; ++check) {
    EXPECT_EQ(pool.CheckStuck(), 1);
    clock_.Advance(absl::Seconds(10));
  }
  const auto own = log.With("reconciling");
  const auto stuck = log.With("reconcile stuck");
  ASSERT_EQ(own.size(), 1u);
  ASSERT_EQ(stuck.size(), 1u) << "once per stuck reconcile, not once per check";
  EXPECT_EQ(stuck[0].level, util::LogLevel::kError);
  EXPECT_EQ(stuck[0].logger, "workqueue");
  EXPECT_THAT(stuck[0].fields,
              testing::IsSupersetOf({Pair("namespace", "team-a"), Pair("name", "preview"),
                                     Pair("runningFor", "5m1s"), Pair("reconcileTimeout", "5m"),
                                     Pair("stuckWorkers", "1")}));
  // The reconcile's own lines carry the same reconcileID: one query finds the
  // pass that hung and what it did last.
  EXPECT_EQ(stuck[0].fields.at("reconcileID"), own[0].fields.at("reconcileID"));

  release[0].Notify();
  ASSERT_TRUE(Eventually([&] { return !log.With("stuck reconcile finished").empty(); }));
  const auto finished = log.With("stuck reconcile finished");
  EXPECT_EQ(finished[0].level, util::LogLevel::kWarn);
  EXPECT_EQ(finished[0].fields.at("took"), "5m51s");
  EXPECT_EQ(finished[0].fields.at("reconcileID"), own[0].fields.at("reconcileID"));
  EXPECT_EQ(finished[0].fields.at("result"), "success");

  // The same key stuck again is another stuck reconcile: logged again.
  queue_.Add("team-a/preview");
  ASSERT_TRUE(Eventually([&] { return passes.load() == 2; }));
  clock_.Advance(kReconcileTimeout + absl::Seconds(1));
  EXPECT_EQ(pool.CheckStuck(), 1);
  const auto again = log.With("reconcile stuck");
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[1].fields.at("reconcileID"), log.With("reconciling")[1].fields.at("reconcileID"));
  EXPECT_NE(again[1].fields.at("reconcileID"), again[0].fields.at("reconcileID"));
  release[1].Notify();
  EXPECT_TRUE(pool.Stop(kTestTimeout));
}

TEST_F(WorkerPoolTest, EachStuckWorkerIsCountedAndLoggedOnItsOwn) {
  CapturedLog log;
  Notification release;
  std::atomic<int> started{0};
  WorkerPool pool(
      &queue_, 3,
      [&](const std::string& key) {
        if (key != "ns/quick") {
          ++started;
          release.WaitForNotification();
        }
        return ReconcileResult{};
      },
      &observer_, ManualChecks(&clock_));
  pool.Start();
  queue_.Add("ns/first");
  ASSERT_TRUE(Eventually([&] { return started.load() == 1; }));
  clock_.Advance(absl::Minutes(3));
  queue_.Add("ns/second");
  ASSERT_TRUE(Eventually([&] { return started.load() == 2; }));
  clock_.Advance(absl::Minutes(3));  // first: 6 minutes, second: 3
  EXPECT_EQ(pool.CheckStuck(), 1);
  clock_.Advance(absl::Minutes(3));  // second: 6 minutes
  EXPECT_EQ(pool.CheckStuck(), 2);
  EXPECT_THAT(observer_.stuck(), ElementsAre(1, 2));
  std::vector<std::string> names;
  for (const auto& line : log.With("reconcile stuck")) names.push_back(line.fields.at("name"));
  EXPECT_THAT(names, ElementsAre("first", "second"));
  // The third worker still reconciles.
  queue_.Add("ns/quick");
  ASSERT_TRUE(Eventually([&] { return Reported() == 1; }));
  release.Notify();
  ASSERT_TRUE(Eventually([&] { return pool.StuckWorkers() == 0; }));
  EXPECT_THAT(observer_.stuck(), testing::ElementsAreArray({1, 2, 1, 0}));
  EXPECT_TRUE(pool.Stop(kTestTimeout));
}

TEST_F(WorkerPoolTest, WithoutATimeoutNothingIsEverStuck) {
  Notification started, release;
  WorkerPool pool(
      &queue_, 1,
      [&](const std::string&) {
        started.Notify();
        release.WaitForNotification();
        return ReconcileResult{};
      },
      &observer_, WorkerPoolOptions{.clock = &clock_});
  pool.Start();
  queue_.Add("k");
  ASSERT_TRUE(started.WaitForNotificationWithTimeout(kTestTimeout));
  clock_.Advance(absl::Hours(24 * 365));
  EXPECT_EQ(pool.CheckStuck(), 0);
  EXPECT_THAT(observer_.stuck(), IsEmpty());
  release.Notify();
  EXPECT_TRUE(pool.Stop(kTestTimeout));
}

TEST_F(WorkerPoolTest, TheWatchdogThreadFindsAStuckReconcileUnasked) {
  Notification started, release;
  WorkerPool pool(
      &queue_, 1,
      [&](const std::string&) {
        started.Notify();
        release.WaitForNotification();
        return ReconcileResult{};
      },
      &observer_,
      WorkerPoolOptions{.reconcile_timeout = kReconcileTimeout,
                        .check_interval = absl::Milliseconds(1),
                        .clock = &clock_});
  pool.Start();
  queue_.Add("k");
  ASSERT_TRUE(started.WaitForNotificationWithTimeout(kTestTimeout));
  clock_.Advance(kReconcileTimeout + absl::Seconds(1));
  ASSERT_TRUE(Eventually([&] { return !observer_.stuck().empty(); }));
  EXPECT_THAT(observer_.stuck(), ElementsAre(1));
  EXPECT_EQ(pool.StuckWorkers(), 1);
  release.Notify();
  ASSERT_TRUE(Eventually([&] { return pool.StuckWorkers() == 0; }));
  EXPECT_THAT(observer_.stuck(), ElementsAre(1, 0));
  EXPECT_TRUE(pool.Stop(kTestTimeout));
}

TEST_F(WorkerPoolTest, StopNamesTheReconcilesThatOutlastTheGrace) {
  CapturedLog log;
  Notification started, release;
  {
    WorkerPool pool(
        &queue_, 1,
        [&](const std::string&) {
          started.Notify();
          release.WaitForNotification();
          return ReconcileResult{};
        },
        nullptr, ManualChecks(&clock_));
    pool.Start();
    queue_.Add("ns/slow");
    ASSERT_TRUE(started.WaitForNotificationWithTimeout(kTestTimeout));
    clock_.Advance(absl::Seconds(42));
    EXPECT_FALSE(pool.Stop(absl::Milliseconds(20)));
    release.Notify();
  }
  const auto lines = log.With("reconcile still running at shutdown");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].level, util::LogLevel::kWarn);
  EXPECT_EQ(lines[0].fields.at("name"), "slow");
  EXPECT_EQ(lines[0].fields.at("runningFor"), "42s");
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
