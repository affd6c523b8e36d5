// Planner: the Environment reconciler as a pure function from (cached state,
// Environment, time) to the actions that bring the cluster to the desired
// state and the status to report (docs/contract.md, "Reconciliation").
//
// An Environment that is already right yields no action and no status patch.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "api/v1alpha1/phase.h"
#include "controllers/environment/cluster_state.h"
#include "controllers/environment/config.h"
#include "controllers/environment/diagnosis.h"
#include "kube/object.h"
#include "kube/resource.h"

namespace controllers {

inline constexpr char kFinalizer[] = "catalyst.dev/finalizer";

struct Action {
  enum class Type {
    kApply,   // server-side apply of body
    kDelete,  // delete (gone already is fine)
    // Delete a namespace the cache does not show if it exists and carries
    // owner_uid; the pass stops there while one was found (it is going away).
    kDeleteIfOwned,
    kAddFinalizer,
    kRemoveFinalizer,
    // POST body; one already there is fine (never overwritten): for what must
    // be made once, such as a generated password.
    kCreate,
  };
  Type type = Type::kApply;
  kube::Resource resource;
  std::string ns;
  std::string name;
  kube::Object body;      // kApply: the desired manifest
  std::string owner_uid;  // kDeleteIfOwned
};

struct Plan {
  std::vector<Action> actions;
  // A merge patch for the status subresource; absent when the status is right.
  std::optional<std::string> status_patch;
  v1alpha1::Phase phase = v1alpha1::Phase::kPending;  // the phase this pass arrives at
  std::string target_namespace;                       // empty when it cannot be derived
  // Set when the phase changes: a Kubernetes Event to record on the Environment.
  struct Event {
    std::string type;  // Normal | Warning
    std::string reason;
    std::string message;
  };
  std::optional<Event> event;
  // Look again at this time even if nothing changes (the failure deadline).
  std::optional<absl::Duration> requeue_after;
  // A Deployment is not ready: call again with a Diagnosis of its pods
  // (label selector below) to name the cause.
  std::string diagnose_selector;
};

struct PlanInput {
  const kube::Object& env;
  const ClusterState& state;
  const OperatorConfig& config;
  absl::Time now;
  const Diagnosis* diagnosis = nullptr;  // null: pods not looked at yet
  // A new random password, used only if the postgres-credentials Secret has
  // to be made (the reconciler draws one per pass: the planner stays pure).
  std::string fresh_password;
};

Plan PlanEnvironment(const PlanInput& in);

}  // namespace controllers
