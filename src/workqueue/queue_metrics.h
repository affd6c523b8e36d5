// QueueMetrics: what a WorkQueue reports about itself (client-go's workqueue
// metrics provider). The operations layer backs it with Prometheus; the queue
// only needs somewhere to send the figures.
#pragma once

#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace workqueue {

// Every method may be called from any thread, and is called with the queue's
// lock held (so the depth gauge never goes backwards): implementations must be
// quick and must not call back into the queue.
class QueueMetrics {
 public:
  virtual ~QueueMetrics() = default;
  // Keys ready to be handed out (both priorities; delayed keys not counted).
  virtual void Depth(absl::string_view queue, int64_t depth) = 0;
  // A key newly needs processing (an Add of a key already waiting is not one).
  virtual void Add(absl::string_view queue) = 0;
  // From the moment a key became ready to the Get that handed it out.
  virtual void QueueLatency(absl::string_view queue, absl::Duration d) = 0;
  // From Get to Done.
  virtual void WorkDuration(absl::string_view queue, absl::Duration d) = 0;
  // An AddRateLimited: a key put back after a failure.
  virtual void Retry(absl::string_view queue) = 0;
};

}  // namespace workqueue
