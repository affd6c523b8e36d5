// ReconcileResult: what a reconcile of one key comes to, and what the worker
// pool then does with the key (controller-runtime's reconcile.Result): success
// forgets its failures, an error retries it with backoff, requeue_after looks
// again later.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace workqueue {

struct ReconcileResult {
  absl::Status status;
  // Reconcile again after this long even though it succeeded (ignored on error).
  std::optional<absl::Duration> requeue_after;
};
using ReconcileFn = std::function<ReconcileResult(const std::string& key)>;

}  // namespace workqueue
