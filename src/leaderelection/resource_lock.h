// ResourceLock: the record leader election agrees on, and where it is kept
// (client-go tools/leaderelection/resourcelock). One implementation, the
// coordination.k8s.io/v1 Lease (lease_lock.h); tests fake this interface.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace leaderelection {

struct LeaderElectionRecord {
  std::string holder_identity;  // "": nobody (released)
  int lease_duration_seconds = 0;
  absl::Time acquire_time = absl::UnixEpoch();
  absl::Time renew_time = absl::UnixEpoch();
  int leader_transitions = 0;
  bool operator==(const LeaderElectionRecord&) const = default;
};

class ResourceLock {
 public:
  virtual ~ResourceLock() = default;
  // NotFound while the lock object does not exist.
  virtual absl::StatusOr<LeaderElectionRecord> Get() = 0;
  virtual absl::Status Create(const LeaderElectionRecord& record) = 0;
  // A compare-and-swap against the version last read or written: a 409
  // Conflict when someone else wrote in between.
  virtual absl::Status Update(const LeaderElectionRecord& record) = 0;
  // "namespace/name", for logs.
  virtual std::string Describe() const = 0;
};

}  // namespace leaderelection
