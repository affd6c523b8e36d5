// Status: an Environment's status (docs/contract.md, "Status") as the planner reads and
// writes it — phase, target namespace, URL, observedGeneration and
// metav1.Condition-shaped conditions — and the merge patch that writes it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "api/v1alpha1/phase.h"
#include "kube/object.h"

namespace controllers {

// The condition types, in the order they are written.
inline constexpr char kProjectResolved[] = "ProjectResolved";
inline constexpr char kNamespaceReady[] = "NamespaceReady";
// The template's image builds (docs/contract.md, "Image builds").
inline constexpr char kBuilt[] = "Built";
inline constexpr char kPostgresReady[] = "PostgresReady";
// Helm mode: how the chart's last render went, and what it made.
inline constexpr char kRendered[] = "Rendered";
inline constexpr char kWebReady[] = "WebReady";
inline constexpr char kReady[] = "Ready";
// Written after Ready, and not part of it: the team's secrets from the web app.
inline constexpr char kSecretsSynced[] = "SecretsSynced";

struct Condition {
  std::string type, status, reason, message, last_transition;
};

// status.builds[]: an image a template build made, or is making
// (docs/contract.md, "Image builds"). The status is where a finished build is
// remembered: its Job is pruned once this says Succeeded.
struct BuildStatus {
  std::string name, commit, image, digest;
  std::string state;  // Running | Succeeded | Failed
  std::string job, message;
  bool operator==(const BuildStatus&) const = default;
};

struct Status {
  std::optional<v1alpha1::Phase> phase;  // none yet (or not one of ours)
  std::string ns, url;
  int64_t observed_generation = 0;
  std::vector<Condition> conditions;
  std::vector<BuildStatus> builds;

  const Condition* Find(absl::string_view type) const;
  // Equal but for the conditions' transition times.
  bool SameIgnoringTimes(const Status& other) const;
};

Status ReadStatus(const kube::Object& env);

// The merge patch for the status subresource; every condition is stamped
// with generation (metav1.Condition's observedGeneration).
std::string StatusPatch(const Status& s, int64_t generation);

// Builds the status from the per-step outcome, keeping transition times of
// conditions that did not change, and the builds as they are unless replaced.
//
// Ready=False also restarts its time when the spec changed (a new generation):
// the failure deadline runs from it, and a corrected spec or a new commit is
// a new attempt, not one already past its deadline.
class StatusBuilder {
 public:
  StatusBuilder(const Status& current, absl::Time now, bool new_generation);
  void Set(absl::string_view type, bool ok, absl::string_view reason, absl::string_view message);
  // Ready=False with the reason and message of the condition set last.
  void NotReadyAsLast();
  // The condition as it is now, if there is one (nothing new to say of it).
  void Keep(absl::string_view type);
  Status& out() { return out_; }

 private:
  const Status& current_;
  const std::string now_;
  const bool new_generation_;
  Status out_;
};

}  // namespace controllers
