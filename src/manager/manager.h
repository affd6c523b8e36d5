// Manager: the process around the Environment controller (controller-runtime's
// manager): the API clients, /metrics and the probes, leader election, and the
// start and shutdown sequence — serve, fill the caches (standbys too), start
// reconciling once synced and leading, and on SIGTERM let in-flight
// reconciles finish before the lease is released.
#pragma once

#include <signal.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "manager/options.h"

namespace manager {

class Manager {
 public:
  // Reads the kubeconfig, connects, builds every part; nothing runs yet.
  static absl::StatusOr<std::unique_ptr<Manager>> Create(const Options& o);
  ~Manager();

  // Runs until one of signals arrives (they must be blocked in every thread),
  // or the lease is lost; the process exit code (0, or 1 for a lost lease).
  int Run(const sigset_t& signals);

 private:
  struct Parts;
  explicit Manager(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

// Blocks SIGTERM and SIGINT in the calling thread, before any other starts
// (threads inherit the mask), so that only Run's sigwait sees them.
sigset_t BlockTerminationSignals();

}  // namespace manager
