// Environments as e2e tests make and check them, through the admin client.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "kube/object.h"

namespace e2e {

// The Environment as the server holds it now (empty if gone), its
// status.phase ("<gone>" if gone).
kube::Object GetEnv(const std::string& ns, const std::string& name);
std::string Phase(const std::string& ns, const std::string& name);
// Its status.namespace once the operator has reported one ("" if not within timeout).
std::string TargetNamespace(const std::string& ns, const std::string& name,
                            absl::Duration timeout = absl::Seconds(60));

// A `development` spec for repository org/repo at commit sha.
std::string DevSpec(absl::string_view sha);
// Creates Environment ns/name with DevSpec(sha); a gtest failure if refused.
void CreateEnv(const std::string& ns, const std::string& name, absl::string_view sha);
// Points ns/name at another commit (a spec change: a new generation).
void SetSha(const std::string& ns, const std::string& name, absl::string_view sha);
// Ready for its current spec (observedGeneration caught up) and its web
// Deployment running sha.
bool ReadyAt(const std::string& ns, const std::string& name, absl::string_view sha);

// The "changes while it was away" scenario of the fault tests, in ns:
// StartScenario creates keep and gone and waits until both are Ready (false
// if not within timeout); ChangeScenario creates new, moves keep to another
// commit and deletes gone; ScenarioConverged says all three are done.
bool StartScenario(const std::string& ns, absl::Duration timeout);
void ChangeScenario(const std::string& ns);
bool ScenarioConverged(const std::string& ns);

}  // namespace e2e
