// Quantity: Kubernetes resource quantities ("2Gi", "250m", "1e3") as
// apimachinery's resource.Quantity parses and stores them.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kube {

// The form kube-apiserver stores a quantity of a ResourceList in (container
// resources, ResourceQuota hard, PVC requests): "8192Mi" -> "8Gi", "0.5" ->
// "500m", "1000" -> "1k", "1.5Gi" -> "1536Mi", "1n" -> "1m". It follows
// apimachinery's ParseQuantity (which keeps a string it deems canonical) and
// CanonicalizeBytes, plus the ResourceList defaulting that rounds up to 1m.
// InvalidArgument for what does not parse, or is beyond 2^63-1 units (where
// apimachinery would silently cap it). A zero mantissa is 0 whatever its
// exponent; the work done is linear in q.size(), whatever the exponent says.
absl::StatusOr<std::string> CanonicalQuantity(absl::string_view q);

// The value of a quantity in its units (bytes, cores), for sums and checks.
absl::StatusOr<double> QuantityValue(absl::string_view q);

}  // namespace kube
