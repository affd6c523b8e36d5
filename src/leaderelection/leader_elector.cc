#include "leaderelection/leader_elector.h"

#include "absl/strings/str_cat.h"
#include "kube/api_error.h"
#include "util/log.h"

namespace leaderelection {
namespace {
constexpr absl::string_view kLogger = "leader-election";
}

absl::Status ValidateConfig(const LeaderElectionConfig& c) {
  if (c.identity.empty()) return absl::InvalidArgumentError("leader election needs an identity");
  if (c.retry_period <= absl::ZeroDuration() || c.renew_deadline <= c.retry_period)
    return absl::InvalidArgumentError(
        "--leader-election-renew-deadline must be greater than --leader-election-retry-period");
  if (c.lease_duration <= c.renew_deadline)
    return absl::InvalidArgumentError(
        "--leader-election-lease-duration must be greater than "
        "--leader-election-renew-deadline");
  return absl::OkStatus();
}

LeaderElector::LeaderElector(ResourceLock* lock, LeaderElectionConfig config)
    : lock_(lock),
      config_(std::move(config)),
      clock_(config_.clock ? config_.clock : &real_clock_) {}

bool LeaderElector::IsLeader() const {
  std::lock_guard<std::mutex> l(mu_);
  return leading_;
}

absl::Status LeaderElector::AllowWrite() const {
  std::lock_guard<std::mutex> l(mu_);
  if (!leading_) return absl::FailedPreconditionError("not the leader: write refused");
  if (clock_->Now() >= fence_until_)
    return absl::FailedPreconditionError(
        "lease not renewed within the renew deadline: write refused");
  return absl::OkStatus();
}

absl::Duration LeaderElector::Jittered(absl::Duration d) {
  // client-go's JitterUntil factor 1.2: candidates do not retry in lockstep.
  return d + d * std::uniform_real_distribution<double>(0, 1.2)(rng_);
}

bool LeaderElector::TryAcquireOrRenew() {
  const absl::Time now = clock_->Now();
  LeaderElectionRecord want{.holder_identity = config_.identity,
                            .lease_duration_seconds = static_cast<int>(absl::ToInt64Seconds(
                                absl::Ceil(config_.lease_duration, absl::Seconds(1)))),
                            .acquire_time = now,
                            .renew_time = now};
  auto current = lock_->Get();
  if (!current.ok() && kube::apierrors::IsNotFound(current.status())) {
    if (absl::Status s = lock_->Create(want); !s.ok()) {
      util::Log(util::LogLevel::kWarn, kLogger, "creating the lease failed",
                {{"lease", lock_->Describe()}, {"error", s.ToString()}});
      return false;
    }
    observed_ = want;
    observed_time_ = now;
  } else if (!current.ok()) {
    util::Log(util::LogLevel::kWarn, kLogger, "reading the lease failed",
              {{"lease", lock_->Describe()}, {"error", current.status().ToString()}});
    return false;
  } else {
    if (!(*current == observed_)) {
      if (current->holder_identity != observed_.holder_identity && config_.on_new_leader)
        config_.on_new_leader(current->holder_identity);
      observed_ = *current;
      observed_time_ = now;
    }
    const bool mine = current->holder_identity == config_.identity;
    const bool held = !current->holder_identity.empty() &&
                      observed_time_ + absl::Seconds(current->lease_duration_seconds) > now;
    if (held && !mine) return false;
    if (mine) {
      want.acquire_time = current->acquire_time;
      want.leader_transitions = current->leader_transitions;
    } else {
      want.leader_transitions = current->leader_transitions + 1;
    }
    if (absl::Status s = lock_->Update(want); !s.ok()) {
      // A 409 is another candidate winning the race; anything else is logged.
      if (!kube::apierrors::IsConflict(s))
        util::Log(util::LogLevel::kWarn, kLogger, "updating the lease failed",
                  {{"lease", lock_->Describe()}, {"error", s.ToString()}});
      return false;
    }
    observed_ = want;
    observed_time_ = now;
  }
  // The fence runs from when this attempt began, not when it ended: the
  // other candidates' clocks started no earlier than that.
  std::lock_guard<std::mutex> l(mu_);
  fence_until_ = now + config_.renew_deadline;
  return true;
}

bool LeaderElector::Run(const util::Cancellation& stop,
                        const std::function<void()>& started_leading) {
  util::Log(util::LogLevel::kInfo, kLogger, "attempting to acquire the lease",
            {{"lease", lock_->Describe()}, {"identity", config_.identity}});
  while (!TryAcquireOrRenew())
    if (stop.WaitFor(Jittered(config_.retry_period))) return true;
  {
    std::lock_guard<std::mutex> l(mu_);
    leading_ = true;
  }
  util::Log(util::LogLevel::kInfo, kLogger, "acquired the lease; leading",
            {{"lease", lock_->Describe()}, {"identity", config_.identity}});
  if (config_.on_new_leader) config_.on_new_leader(config_.identity);
  if (started_leading) started_leading();

  absl::Time renewed = clock_->Now();
  while (!stop.WaitFor(config_.retry_period)) {
    // Retries every retry period until the renew deadline (client-go's renew loop).
    while (!TryAcquireOrRenew()) {
      if (clock_->Now() >= renewed + config_.renew_deadline || stop.cancelled()) break;
      if (stop.WaitFor(config_.retry_period)) break;
    }
    if (stop.cancelled()) break;
    if (AllowWrite().ok()) {
      renewed = clock_->Now();
      continue;
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      leading_ = false;
    }
    util::Log(util::LogLevel::kError, kLogger,
              "lost the lease: not renewed within the renew deadline",
              {{"lease", lock_->Describe()}, {"identity", config_.identity}});
    return false;
  }
  Release();
  return true;
}

void LeaderElector::Release() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!leading_) return;
    leading_ = false;  // stop writing before the lease is handed back
  }
  if (!config_.release_on_cancel) return;
  const absl::Time now = clock_->Now();
  // client-go's release: no holder, a one-second lease, so standbys take over at once.
  LeaderElectionRecord released{.holder_identity = "",
                                .lease_duration_seconds = 1,
                                .acquire_time = now,
                                .renew_time = now,
                                .leader_transitions = observed_.leader_transitions};
  if (absl::Status s = lock_->Update(released); !s.ok()) {
    util::Log(util::LogLevel::kWarn, kLogger, "releasing the lease failed",
              {{"lease", lock_->Describe()}, {"error", s.ToString()}});
    return;
  }
  util::Log(util::LogLevel::kInfo, kLogger, "released the lease", {{"lease", lock_->Describe()}});
}

}  // namespace leaderelection
