#include "util/cancellation.h"

#include <chrono>

namespace util {

void Cancellation::Cancel() {
  std::vector<std::pair<int, std::function<void()>>> run;
  {
    std::lock_guard l(mu_);
    if (cancelled_) return;
    cancelled_ = true;
    running_ = true;
    run.swap(callbacks_);
  }
  cv_.notify_all();
  for (auto& [id, fn] : run) fn();
  {
    std::lock_guard l(mu_);
    running_ = false;
  }
  cv_.notify_all();
}

bool Cancellation::cancelled() const {
  std::lock_guard l(mu_);
  return cancelled_;
}

bool Cancellation::WaitFor(absl::Duration timeout) const {
  std::unique_lock l(mu_);
  return cv_.wait_for(l, absl::ToChronoNanoseconds(timeout), [this] { return cancelled_; });
}

int Cancellation::OnCancel(std::function<void()> fn) {
  {
    std::lock_guard l(mu_);
    if (!cancelled_) {
      callbacks_.emplace_back(++next_id_, std::move(fn));
      return next_id_;
    }
  }
  fn();
  return 0;
}

void Cancellation::Remove(int id) {
  std::unique_lock l(mu_);
  std::erase_if(callbacks_, [id](const auto& p) { return p.first == id; });
  // Cancel() may have taken this callback already and be running it.
  cv_.wait(l, [this] { return !running_; });
}

}  // namespace util
