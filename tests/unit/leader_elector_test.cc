#include "leaderelection/leader_elector.h"

#include <atomic>
#include <condition_variable>
#include <map>
#include <thread>

#include "gtest/gtest.h"
#include "kube/api_error.h"
#include "kube/object.h"
#include "support/fake_clock.h"

namespace leaderelection {
namespace {

using testing_support::FakeClock;

// An in-memory lock with the API server's semantics: versioned compare-and-swap.
class MemoryLock final : public ResourceLock {
 public:
  absl::StatusOr<LeaderElectionRecord> Get() override {
    std::unique_lock l(mu_);
    cv_.wait(l, [this] { return !blocked_; });
    if (fail_) return absl::UnavailableError("api server down");
    if (!exists_) return kube::MakeApiError({.code = 404, .reason = "NotFound"});
    read_version_[std::this_thread::get_id()] = version_;
    return record_;
  }
  absl::Status Create(const LeaderElectionRecord& r) override {
    std::lock_guard l(mu_);
    if (fail_) return absl::UnavailableError("api server down");
    if (exists_) return kube::MakeApiError({.code = 409, .reason = "AlreadyExists"});
    exists_ = true;
    record_ = r;
    read_version_[std::this_thread::get_id()] = ++version_;
    return absl::OkStatus();
  }
  absl::Status Update(const LeaderElectionRecord& r) override {
    std::lock_guard l(mu_);
    if (fail_) return absl::UnavailableError("api server down");
    if (read_version_[std::this_thread::get_id()] != version_)
      return kube::MakeApiError({.code = 409, .reason = "Conflict"});
    record_ = r;
    read_version_[std::this_thread::get_id()] = ++version_;
    return absl::OkStatus();
  }
  std::string Describe() const override { return "test/lock"; }

  void Set(const LeaderElectionRecord& r) {
    std::lock_guard l(mu_);
    exists_ = true;
    record_ = r;
    ++version_;
  }
  LeaderElectionRecord record() {
    std::lock_guard l(mu_);
    return record_;
  }
  void SetFailing(bool fail) {
    std::lock_guard l(mu_);
    fail_ = fail;
  }
  void SetBlocked(bool blocked) {
    {
      std::lock_guard l(mu_);
      blocked_ = blocked;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool exists_ = false, fail_ = false, blocked_ = false;
  LeaderElectionRecord record_;
  int version_ = 0;
  std::map<std::thread::id, int> read_version_;
};

bool WaitUntil(absl::FunctionRef<bool()> cond, absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!cond()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

// Short real-time durations for Run (its waits are real).
LeaderElectionConfig Fast(std::string id, const util::Clock* clock = nullptr) {
  return {.identity = std::move(id),
          .lease_duration = absl::Milliseconds(600),
          .renew_deadline = absl::Milliseconds(400),
          .retry_period = absl::Milliseconds(50),
          .clock = clock};
}

TEST(LeaderElectorTest, CreatesTheLeaseWhenMissing) {
  FakeClock clock;
  MemoryLock lock;
  LeaderElector a(&lock, {.identity = "a", .clock = &clock});
  EXPECT_TRUE(a.TryAcquireOrRenew());
  EXPECT_EQ(lock.record().holder_identity, "a");
  EXPECT_EQ(lock.record().lease_duration_seconds, 15);
  EXPECT_EQ(lock.record().renew_time, clock.Now());
}

TEST(LeaderElectorTest, AHeldLeaseIsTakenOnlyAfterItsDurationOnTheCandidatesClock) {
  FakeClock clock;
  MemoryLock lock;
  // The holder's renewTime is far in the past by our clock: skew must not matter.
  lock.Set({.holder_identity = "other",
            .lease_duration_seconds = 15,
            .renew_time = clock.Now() - absl::Hours(1),
            .leader_transitions = 3});
  LeaderElector b(&lock, {.identity = "b", .clock = &clock});
  EXPECT_FALSE(b.TryAcquireOrRenew());
  clock.Advance(absl::Seconds(14));
  EXPECT_FALSE(b.TryAcquireOrRenew());
  clock.Advance(absl::Seconds(2));
  EXPECT_TRUE(b.TryAcquireOrRenew());
  EXPECT_EQ(lock.record().holder_identity, "b");
  EXPECT_EQ(lock.record().leader_transitions, 4);
}

TEST(LeaderElectorTest, ARenewalByTheHolderRestartsTheWait) {
  FakeClock clock;
  MemoryLock lock;
  LeaderElectionRecord held{.holder_identity = "other", .lease_duration_seconds = 15};
  lock.Set(held);
  LeaderElector b(&lock, {.identity = "b", .clock = &clock});
  EXPECT_FALSE(b.TryAcquireOrRenew());
  clock.Advance(absl::Seconds(10));
  held.renew_time += absl::Seconds(10);
  lock.Set(held);
  EXPECT_FALSE(b.TryAcquireOrRenew());
  clock.Advance(absl::Seconds(10));
  EXPECT_FALSE(b.TryAcquireOrRenew()) << "seen renewed 10 s ago: still held";
}

TEST(LeaderElectorTest, AReleasedLeaseIsTakenAtOnce) {
  FakeClock clock;
  MemoryLock lock;
  lock.Set({.holder_identity = "", .lease_duration_seconds = 1, .leader_transitions = 1});
  LeaderElector b(&lock, {.identity = "b", .clock = &clock});
  EXPECT_TRUE(b.TryAcquireOrRenew());
  EXPECT_EQ(lock.record().leader_transitions, 2);
}

TEST(LeaderElectorTest, ExactlyOneOfTwoCandidatesLeadsAndAStopHandsOver) {
  MemoryLock lock;
  LeaderElectionConfig slow_expiry = Fast("a");
  slow_expiry.lease_duration = absl::Seconds(5);
  LeaderElector a(&lock, slow_expiry);
  slow_expiry.identity = "b";
  LeaderElector b(&lock, slow_expiry);
  util::Cancellation stop_a, stop_b;
  std::atomic<bool> a_result{false};
  std::thread ta([&] { a_result = a.Run(stop_a); });
  ASSERT_TRUE(WaitUntil([&] { return a.IsLeader(); }));
  std::thread tb([&] { b.Run(stop_b); });
  // b keeps trying for several lease durations without taking over a renewed lease.
  for (int i = 0; i < 30; ++i) {
    EXPECT_FALSE(b.IsLeader());
    ASSERT_FALSE(stop_b.WaitFor(absl::Milliseconds(50)));
  }
  EXPECT_TRUE(a.AllowWrite().ok());
  EXPECT_FALSE(b.AllowWrite().ok());
  const absl::Time stopped = absl::Now();
  stop_a.Cancel();
  ta.join();
  EXPECT_TRUE(a_result) << "a graceful stop is not a lost lease";
  EXPECT_FALSE(a.AllowWrite().ok());
  ASSERT_TRUE(WaitUntil([&] { return b.IsLeader(); }));
  // Released: taken within a few retry periods, not after the lease duration.
  EXPECT_LT(absl::Now() - stopped, absl::Seconds(4));
  stop_b.Cancel();
  tb.join();
}

TEST(LeaderElectorTest, ALeaderThatCannotRenewLosesAndStopsWriting) {
  MemoryLock lock;
  LeaderElector a(&lock, Fast("a"));
  util::Cancellation stop;
  std::atomic<int> result{-1};
  std::thread t([&] { result = a.Run(stop) ? 1 : 0; });
  ASSERT_TRUE(WaitUntil([&] { return a.IsLeader(); }));
  lock.SetFailing(true);
  ASSERT_TRUE(WaitUntil([&] { return result != -1; }));
  EXPECT_EQ(result, 0);
  EXPECT_FALSE(a.IsLeader());
  EXPECT_FALSE(a.AllowWrite().ok());
  t.join();
}

TEST(LeaderElectorTest, TheFenceClosesAtTheDeadlineEvenWhileRenewalIsStuck) {
  FakeClock clock;
  MemoryLock lock;
  LeaderElectionConfig config = Fast("a", &clock);
  config.renew_deadline = absl::Seconds(10);
  config.lease_duration = absl::Seconds(15);
  LeaderElector a(&lock, config);
  util::Cancellation stop;
  std::thread t([&] { a.Run(stop); });
  ASSERT_TRUE(WaitUntil([&] { return a.IsLeader(); }));
  EXPECT_TRUE(a.AllowWrite().ok());
  // The renewing thread hangs in a request (or the process was stopped)...
  lock.SetBlocked(true);
  clock.Advance(absl::Seconds(9));
  EXPECT_TRUE(a.AllowWrite().ok());
  clock.Advance(absl::Seconds(2));
  // ...and writes are refused the moment the deadline passes.
  absl::Status s = a.AllowWrite();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  lock.SetBlocked(false);
  stop.Cancel();
  t.join();
}

TEST(LeaderElectionConfigTest, RejectsInconsistentDurations) {
  EXPECT_TRUE(ValidateConfig({.identity = "a"}).ok());
  EXPECT_FALSE(ValidateConfig({.identity = ""}).ok());
  EXPECT_FALSE(ValidateConfig({.identity = "a", .renew_deadline = absl::Seconds(15)}).ok());
  EXPECT_FALSE(ValidateConfig({.identity = "a", .retry_period = absl::Seconds(10)}).ok());
}

}  // namespace
}  // namespace leaderelection
