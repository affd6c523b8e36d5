// Planner: the Environment reconciler as a pure function from (cached state,
// Environment, time, and the pods' diagnosis when it asks for one) to the
// actions that bring the cluster to the desired state and the status to
// report (docs/contract.md, "Reconciliation"). One plan per pass.
//
// An Environment that is already right yields no action and no status patch.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "api/v1alpha1/phase.h"
#include "controllers/environment/build_result.h"
#include "controllers/environment/cluster_state.h"
#include "controllers/environment/config.h"
#include "controllers/environment/diagnosis.h"
#include "controllers/environment/render_request.h"
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
  // Helm mode: the render this Environment waits for (none cached for this
  // request, or a failed one to retry); the reconciler hands it to the
  // renderer, whose outcome queues the Environment again.
  std::optional<RenderRequest> render;
};

// Why the pods of a Deployment that is not ready are not (namespace, label
// selector of its pods); nullopt when they cannot be read. The one read of a
// pass outside the caches (pods are not watched): the planner asks only once
// everything is in place and a Deployment is still not ready.
using DiagnoseFn =
    std::function<std::optional<Diagnosis>(absl::string_view ns, absl::string_view selector)>;

// What a build Job that finished left in its pods (namespace, the Job's
// uid: its pods' batch.kubernetes.io/controller-uid, which no other pod
// carries); nullopt when they cannot be listed now, a failure when none is
// left to read. Asked once per finished build: the answer is kept in
// status.builds.
using ReadBuildFn =
    std::function<std::optional<BuildResult>(absl::string_view ns, absl::string_view job_uid)>;

struct PlanInput {
  const kube::Object& env;
  const ClusterState& state;
  const OperatorConfig& config;
  absl::Time now;
  DiagnoseFn diagnose;  // null: pods are not looked at
  // A new random password, used only if the postgres-credentials Secret has
  // to be made (the reconciler draws one per pass: the planner stays pure).
  std::string fresh_password;
  ReadBuildFn read_build;  // null: a finished build's pods are not looked at
};

Plan PlanEnvironment(const PlanInput& in);

}  // namespace controllers
