// BuildResult: what a finished build Job's pod reported (docs/contract.md,
// "Image builds"). The builder leaves the pushed image's digest as its
// termination message; a failed step leaves its log tail there
// (FallbackToLogsOnError). Pods are not cached: the reconciler lists the
// Job's pods once, when the cached Job says it finished.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "controllers/environment/redact.h"
#include "kube/object.h"

namespace controllers {

struct BuildResult {
  bool succeeded = false;  // the builder container exited 0
  std::string message;     // its termination message (redacted), or a failed step's
};

// The result among a Job's pods (the last to terminate wins); nullopt when no
// pod shows a terminated builder or failed init container.
std::optional<BuildResult> ReadBuildResult(const std::vector<kube::Object>& pods,
                                           const Redactor& redactor = Redactor::PatternsOnly());

// "sha256:" and 64 lowercase hex digits, the digest buildah --digestfile writes.
bool IsImageDigest(absl::string_view s);

}  // namespace controllers
