#include "kube/transport.h"

namespace kube {

void Cancellation::Cancel() {
  std::vector<std::pair<int, std::function<void()>>> run;
  {
    absl::MutexLock l(&mu_);
    if (cancelled_) return;
    cancelled_ = true;
    run.swap(callbacks_);
  }
  for (auto& [id, fn] : run) fn();
}

bool Cancellation::cancelled() const {
  absl::MutexLock l(&mu_);
  return cancelled_;
}

bool Cancellation::WaitFor(absl::Duration timeout) const {
  absl::MutexLock l(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&cancelled_), timeout);
}

int Cancellation::OnCancel(std::function<void()> fn) {
  {
    absl::MutexLock l(&mu_);
    if (!cancelled_) {
      callbacks_.emplace_back(++next_id_, std::move(fn));
      return next_id_;
    }
  }
  fn();
  return 0;
}

void Cancellation::Remove(int id) {
  absl::MutexLock l(&mu_);
  std::erase_if(callbacks_, [id](const auto& p) { return p.first == id; });
}

}  // namespace kube
