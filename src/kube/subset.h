// Subset: does a cached object already say everything a desired manifest says?
//
// The planner sends a managed object (server-side apply) only when its desired
// manifest is not a subset of the cached copy: kube-apiserver adds defaults
// (imagePullPolicy, protocol: TCP, strategy...) that a subset check ignores,
// so a pass over an environment that is already right sends no write
// (docs/contract.md, "Reconciliation", "Rules": level-triggered and idempotent).
//
// Changed and removed fields are seen, and so is an element missing from a
// list. Lists server-side apply merges by key (containers, env, ports,
// volumes, volume mounts) are compared by key: an element another manager
// added (`kubectl set env`, a mutating webhook) is not a difference — an
// apply would not remove it, so seeing it would mean applying every pass.
// Atomic lists (commands, NetworkPolicy rules) must match in length. What
// the operator itself stopped wanting (an env var removed from the config)
// is not seen here either: the desired-state hash is (planner.cc).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rapidjson/document.h"

namespace kube {

// True when every member of desired is in actual with an equal value, or is
// a zero value ("", false, 0, [], {}) absent from actual (omitempty):
// objects recursively (extra members in actual are ignored), keyed lists by
// key, other arrays of the same length element-wise, numbers numerically
// (1 == 1.0), other scalars exactly. Quantities compare as strings: builders
// send canonical ones.
bool IsSubset(const rapidjson::Value& desired, const rapidjson::Value& actual);

}  // namespace kube
