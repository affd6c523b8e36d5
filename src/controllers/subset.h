// Subset: does a cached object already say everything a desired manifest says?
//
// The planner sends a managed object (server-side apply) only when its desired
// manifest is not a subset of the cached copy: kube-apiserver adds defaults
// (imagePullPolicy, protocol: TCP, strategy...) that a subset check ignores,
// so a pass over an environment that is already right sends no write
// (PRODUCT.md "Rules": level-triggered and idempotent).
//
// Changed and removed fields are seen, and so is an element added to a list
// (lengths differ). A member added to an object is not (a matchLabels under
// an empty podSelector): server-side apply would not remove a field another
// manager owns anyway. Neither would it remove another manager's entry in a
// keyed list (an env var added by `kubectl set env`), so such an object stays
// "not a subset" after the apply: the planner should notice an apply that
// changed nothing rather than repeat it every pass.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rapidjson/document.h"

namespace controllers {

// True when every member of desired is in actual with an equal value, or is
// a zero value ("", false, 0, [], {}) absent from actual (omitempty):
// objects recursively (extra members in actual are ignored), arrays of the
// same length element-wise, numbers numerically (1 == 1.0), other scalars
// exactly. Quantities compare as strings: builders send canonical ones.
bool IsSubset(const rapidjson::Value& desired, const rapidjson::Value& actual);

}  // namespace controllers
