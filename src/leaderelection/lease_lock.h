// LeaseLock: a ResourceLock kept in a coordination.k8s.io/v1 Lease.
#pragma once

#include <mutex>
#include <string>

#include "kube/client.h"
#include "leaderelection/resource_lock.h"

namespace leaderelection {

class LeaseLock final : public ResourceLock {
 public:
  LeaseLock(kube::Client* client, std::string ns, std::string name)
      : client_(client), ns_(std::move(ns)), name_(std::move(name)) {}

  absl::StatusOr<LeaderElectionRecord> Get() override;
  absl::Status Create(const LeaderElectionRecord& record) override;
  absl::Status Update(const LeaderElectionRecord& record) override;
  std::string Describe() const override { return ns_ + "/" + name_; }

  // The Lease's JSON for record (resource_version "" for a create); exposed for tests.
  std::string Manifest(const LeaderElectionRecord& record,
                       const std::string& resource_version) const;
  static absl::StatusOr<LeaderElectionRecord> FromLease(const kube::Object& lease);

 private:
  absl::Status Remember(const absl::StatusOr<kube::Object>& lease);

  kube::Client* const client_;
  const std::string ns_, name_;
  std::mutex mu_;
  std::string resource_version_;  // of the Lease last read or written
};

}  // namespace leaderelection
