// TeamSecrets: what the operator last heard from the Catalyst web app about
// one Environment's secrets (docs/contract.md, "The team's secrets"), as the
// planner reads it: the SecretsSynced condition and the data of Secret
// catalyst-secrets. Values are base64 (as Secret data is) and never leave the
// Secret: no log, Event or status names one.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kube/object.h"

namespace controllers {

// The annotation the web app merge-patches onto an Environment it created
// (PR previews have none): its id in the web app's database.
inline constexpr char kEnvironmentIdAnnotation[] = "catalyst.dev/environment-id";
// The Secret in the environment namespace, and the pod template annotation
// that rolls the pods when its data changes.
inline constexpr char kTeamSecretName[] = "catalyst-secrets";
inline constexpr char kTeamSecretHashAnnotation[] = "catalyst.dev/secrets-hash";

struct TeamSecrets {
  std::string environment_id;  // the annotation this answers
  bool synced = false;         // the last fetch succeeded
  // SecretsSynced's reason (Synced, WebAppUnreachable, Unauthorized,
  // NotFound, HTTPError, InvalidAnswer) and message: statuses and names only.
  std::string reason, message;
  // The last good answer, KEY -> base64(value), sorted by key; absent: none
  // yet since the operator started (a failure keeps the last good one).
  std::optional<std::vector<std::pair<std::string, std::string>>> data;
  // Set once this outcome is replaced or dropped (the pass memo's check).
  std::shared_ptr<const kube::CacheMark> mark = std::make_shared<const kube::CacheMark>();
};

}  // namespace controllers
