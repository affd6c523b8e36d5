// Phase: status.phase of an Environment (docs/contract.md, "Status"), the one summary
// the Catalyst web app reads (Ready; Building/Deploying/Provisioning; Failed; else Pending).
#pragma once

#include <array>
#include <optional>

#include "absl/strings/string_view.h"

namespace v1alpha1 {

enum class Phase { kPending, kProvisioning, kBuilding, kDeploying, kReady, kFailed, kTerminating };

inline constexpr std::array<Phase, 7> kPhases = {
    Phase::kPending, Phase::kProvisioning, Phase::kBuilding,   Phase::kDeploying,
    Phase::kReady,   Phase::kFailed,       Phase::kTerminating};

constexpr absl::string_view PhaseName(Phase p) {
  switch (p) {
    case Phase::kPending:
      return "Pending";
    case Phase::kProvisioning:
      return "Provisioning";
    case Phase::kBuilding:
      return "Building";
    case Phase::kDeploying:
      return "Deploying";
    case Phase::kReady:
      return "Ready";
    case Phase::kFailed:
      return "Failed";
    case Phase::kTerminating:
      return "Terminating";
  }
  return "";
}

// The phase a status names; absent or unknown (written by someone else) is nullopt.
inline std::optional<Phase> ParsePhase(absl::string_view name) {
  for (Phase p : kPhases)
    if (PhaseName(p) == name) return p;
  return std::nullopt;
}

// A phase that holds until something changes: nothing is pending in it.
constexpr bool IsFinal(Phase p) { return p == Phase::kReady || p == Phase::kFailed; }

}  // namespace v1alpha1
