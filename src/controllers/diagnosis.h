// Diagnosis: why a Deployment's pods are not ready, read from pod statuses
// as the kubelet reports them (PRODUCT.md "Failure is visible").
#pragma once

#include <string>
#include <vector>

#include "kube/object.h"

namespace controllers {

struct Diagnosis {
  enum class Severity { kNone, kWaiting, kFailing };
  Severity severity = Severity::kNone;
  std::string reason;   // OOMKilled, CrashLoopBackOff, ImagePullBackOff, InitContainerFailing,
                        // InitContainerRunning, ...
  std::string message;  // names the container and the cause
};

// The most telling problem among the pods (failing beats waiting).
Diagnosis Diagnose(const std::vector<kube::Object>& pods);

}  // namespace controllers
