// LeaderElector: one leader among replicas (client-go tools/leaderelection).
//
// A candidate takes the lock when it is free or when its holder has not
// renewed for the lease duration, measured on this candidate's own clock from
// when it last saw the record change (so clock skew between replicas does not
// matter). The leader renews every retry period; if it has not renewed for the
// renew deadline it has lost. It is also the WriteFence of the leader's API
// client: writes are refused from the moment the renew deadline has passed
// since the last successful renewal (or the lease is lost or released), even
// while the renewing thread is stuck or the process was stopped — a resumed
// leader writes nothing until it has re-read and renewed its lease.
#pragma once

#include <functional>
#include <mutex>
#include <random>
#include <string>

#include "kube/client.h"
#include "kube/transport.h"
#include "leaderelection/resource_lock.h"
#include "util/clock.h"

namespace leaderelection {

struct LeaderElectionConfig {
  std::string identity;  // unique per replica: hostname_random
  absl::Duration lease_duration = absl::Seconds(15);
  absl::Duration renew_deadline = absl::Seconds(10);
  absl::Duration retry_period = absl::Seconds(2);
  bool release_on_cancel = true;
  const util::Clock* clock = nullptr;  // null: the wall clock
  // Called on Run's thread whenever the observed holder changes ("" when released).
  std::function<void(const std::string&)> on_new_leader;
};

// The lease duration must exceed the renew deadline, which must exceed the retry period.
absl::Status ValidateConfig(const LeaderElectionConfig& config);

class LeaderElector final : public kube::WriteFence {
 public:
  LeaderElector(ResourceLock* lock, LeaderElectionConfig config);

  // Blocks: tries to acquire until it does or stop fires, then calls
  // started_leading (on this thread: it must not block) and renews until
  // renewal fails for the renew deadline (returns false: leadership lost) or
  // stop fires (releases the lock if configured; returns true).
  bool Run(const util::Cancellation& stop, const std::function<void()>& started_leading = {});

  bool IsLeader() const;
  absl::Status AllowWrite() const override;

  // One attempt, exposed for tests: true if this candidate holds the lock after it.
  bool TryAcquireOrRenew();

 private:
  void Release();
  absl::Duration Jittered(absl::Duration d);

  ResourceLock* const lock_;
  const LeaderElectionConfig config_;
  util::RealClock real_clock_;
  const util::Clock* const clock_;
  std::mt19937 rng_{std::random_device{}()};

  // Only Run's thread touches the observed record.
  LeaderElectionRecord observed_;
  absl::Time observed_time_ = absl::InfinitePast();

  mutable std::mutex mu_;
  bool leading_ = false;                           // guarded by mu_
  absl::Time fence_until_ = absl::InfinitePast();  // guarded by mu_
};

}  // namespace leaderelection
