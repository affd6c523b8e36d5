// Subset: does a cached object already say everything a desired manifest says?
//
// The planner sends a managed object (server-side apply) only when its desired
// manifest is not a subset of the cached copy: kube-apiserver adds defaults
// (imagePullPolicy, protocol: TCP, strategy...) that a subset check ignores,
// so a pass over an environment that is already right sends no write
// (PRODUCT.md "Rules": level-triggered and idempotent).
//
// What it cannot see: fields someone else added (an extra env var, a
// matchLabels under an empty podSelector). Server-side apply does not remove
// fields another manager owns either, so repairing those is out of reach of
// both; changed and removed fields are seen and repaired.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rapidjson/document.h"

namespace controllers {

// True when every member of desired is in actual with an equal value:
// objects recursively (extra members in actual are ignored), arrays of the
// same length element-wise, numbers numerically (1 == 1.0), other scalars
// exactly. Quantities compare as strings: builders send canonical ones.
bool IsSubset(const rapidjson::Value& desired, const rapidjson::Value& actual);

// The form kube-apiserver stores a resource.Quantity in ("8192Mi" -> "8Gi",
// "0.5" -> "500m", "1000" -> "1k", "1.5Gi" -> "1536Mi"), following
// apimachinery's CanonicalizeBytes; values finer than 1n round up to it as the
// server does. InvalidArgument for what the server would refuse.
absl::StatusOr<std::string> CanonicalQuantity(absl::string_view q);

}  // namespace controllers
