// Diagnosis: why a Deployment's pods are not ready, read from pod and
// ReplicaSet statuses as the kubelet, the scheduler and the ReplicaSet
// controller report them (docs/contract.md, "Reconciliation", "Rules": failure is visible).
#pragma once

#include <string>
#include <vector>

#include "controllers/environment/redact.h"
#include "kube/object.h"

namespace controllers {

struct Diagnosis {
  enum class Severity { kNone, kWaiting, kFailing };
  Severity severity = Severity::kNone;
  std::string reason;   // OOMKilled, CrashLoopBackOff, ImagePullBackOff, InitContainerFailing,
                        // InitContainerRunning, Unschedulable, FailedCreate
  std::string message;  // names the container (or pod) and the cause
};

// The most telling problem among the pods, else among the ReplicaSets
// (failing beats waiting). A container is judged by its restarts and its last
// termination, not only while it waits in CrashLoopBackOff: between two
// back-offs it runs, unready, and that is no recovery.
//
// What the message quotes (a termination message: the container's log tail;
// the kubelet's, the scheduler's, the ReplicaSet controller's words) passes
// through redactor first: the message goes to the status, an Event and the
// operator's log (redact.h).
Diagnosis Diagnose(const std::vector<kube::Object>& pods,
                   const std::vector<kube::Object>& replica_sets = {},
                   const Redactor& redactor = Redactor::PatternsOnly());

}  // namespace controllers
