#include "workqueue/work_queue.h"

#include <algorithm>
#include <chrono>

namespace workqueue {
namespace {

// With an injected clock, time can jump without anyone calling into the queue
// (a test's Advance), so a Get waiting for a delayed key re-reads the clock
// this often instead of sleeping until the key is due.
constexpr absl::Duration kInjectedClockPoll = absl::Milliseconds(10);

}  // namespace

WorkQueue::WorkQueue(WorkQueueOptions opts)
    : name_(std::move(opts.name)),
      max_low_wait_(opts.max_low_priority_wait),
      clock_(opts.clock != nullptr ? opts.clock : &real_clock_),
      poll_clock_(opts.clock != nullptr),
      metrics_(opts.metrics),
      limiter_(opts.base_delay, opts.max_delay, opts.qps, opts.burst, clock_) {}

WorkQueue::~WorkQueue() { ShutDown(); }

void WorkQueue::Add(const std::string& key, Priority p) {
  std::lock_guard l(mu_);
  if (shutting_down_) return;
  const absl::Time now = clock_->Now();
  PromoteDueLocked(now);
  AddLocked(key, p, now);
}

void WorkQueue::AddAfter(const std::string& key, absl::Duration delay) {
  std::lock_guard l(mu_);
  AddAfterLocked(key, delay);
}

void WorkQueue::AddRateLimited(const std::string& key) {
  const absl::Duration delay = limiter_.When(key);
  std::lock_guard l(mu_);
  if (shutting_down_) return;
  if (metrics_ != nullptr) metrics_->Retry(name_);
  AddAfterLocked(key, delay);
}

void WorkQueue::Forget(const std::string& key) { limiter_.Forget(key); }

int WorkQueue::NumRequeues(const std::string& key) const { return limiter_.NumRequeues(key); }

std::optional<std::string> WorkQueue::Get() { return GetUntil(absl::InfiniteFuture()); }

std::optional<std::string> WorkQueue::Get(absl::Duration max_wait) {
  return GetUntil(absl::Now() + max_wait);
}

std::optional<std::string> WorkQueue::GetUntil(absl::Time real_deadline) {
  std::unique_lock l(mu_);
  while (true) {
    const absl::Time now = clock_->Now();
    PromoteDueLocked(now);
    if (std::optional<std::string> key = PopLocked(now)) {
      // Several keys may have become ready under one wakeup (delayed keys
      // coming due together): pass it on so they do not wait for the next.
      if (!high_.empty() || !low_.empty()) ready_cv_.notify_one();
      return key;
    }
    if (shutting_down_) return std::nullopt;
    const absl::Time real_now = absl::Now();
    if (real_now >= real_deadline) return std::nullopt;
    absl::Time wake = real_deadline;
    if (!waiting_by_time_.empty()) {
      absl::Duration until_due = waiting_by_time_.begin()->first.first - now;
      if (poll_clock_) until_due = std::min(until_due, kInjectedClockPoll);
      wake = std::min(wake, real_now + until_due);
    }
    // absl::Now() and system_clock read the same (real-time) clock.
    if (wake == absl::InfiniteFuture()) {
      ready_cv_.wait(l);
    } else {
      ready_cv_.wait_until(l, absl::ToChronoTime(wake));
    }
  }
}

void WorkQueue::Done(const std::string& key) {
  std::lock_guard l(mu_);
  const absl::Time now = clock_->Now();
  auto p = processing_.find(key);
  if (p == processing_.end()) return;
  PromoteDueLocked(now);
  if (metrics_ != nullptr) metrics_->WorkDuration(name_, now - p->second);
  processing_.erase(p);
  // Added while it was out: it waited in items_ without a place in a list.
  // Queued even when shutting down — the add came first (as client-go does).
  auto it = items_.find(key);
  if (it != items_.end() && !it->second.queued) {
    PushLocked(key, it->second, now);
    ReportDepthLocked();
  }
  if (processing_.empty()) drained_cv_.notify_all();
}

void WorkQueue::ShutDown() {
  std::lock_guard l(mu_);
  ShutDownLocked();
}

void WorkQueue::ShutDownWithDrain() {
  std::unique_lock l(mu_);
  ShutDownLocked();
  drained_cv_.wait(l, [this] { return processing_.empty(); });
}

bool WorkQueue::ShuttingDown() const {
  std::lock_guard l(mu_);
  return shutting_down_;
}

size_t WorkQueue::Len() const {
  std::lock_guard l(mu_);
  size_t n = high_.size() + low_.size();
  // Delayed keys that have come due but that nobody has moved yet: counted
  // unless already queued or out (then moving them would add nothing ready).
  const absl::Time now = clock_->Now();
  for (auto it = waiting_by_time_.begin(); it != waiting_by_time_.end() && it->first.first <= now;
       ++it) {
    if (!items_.contains(it->second) && !processing_.contains(it->second)) ++n;
  }
  return n;
}

absl::Duration WorkQueue::UnfinishedWork() const {
  std::lock_guard l(mu_);
  const absl::Time now = clock_->Now();
  absl::Duration sum;
  for (const auto& [key, since] : processing_) sum += now - since;
  return sum;
}

absl::Duration WorkQueue::LongestRunning() const {
  std::lock_guard l(mu_);
  const absl::Time now = clock_->Now();
  absl::Duration longest;
  for (const auto& [key, since] : processing_) longest = std::max(longest, now - since);
  return longest;
}

void WorkQueue::AddLocked(const std::string& key, Priority p, absl::Time now) {
  auto [it, inserted] = items_.try_emplace(key);
  Item& item = it->second;
  if (!inserted) {
    if (p == Priority::kHigh && item.priority == Priority::kLow) {
      item.priority = Priority::kHigh;
      // To the back of the kHigh list: splice keeps item.pos valid.
      if (item.queued) {
        high_.splice(high_.end(), low_, item.pos);
        item.pos->queued_at = now;
      }
    }
    return;
  }
  item.priority = p;
  item.added = now;
  if (metrics_ != nullptr) metrics_->Add(name_);
  if (processing_.contains(key)) return;  // dirty: its Done queues it
  PushLocked(key, item, now);
  ReportDepthLocked();
}

void WorkQueue::AddAfterLocked(const std::string& key, absl::Duration delay) {
  if (shutting_down_) return;
  const absl::Time now = clock_->Now();
  PromoteDueLocked(now);
  if (delay <= absl::ZeroDuration()) {
    AddLocked(key, Priority::kHigh, now);
    return;
  }
  const absl::Time at = now + delay;
  auto it = waiting_.find(key);
  if (it != waiting_.end()) {
    if (at >= it->second->first.first) return;  // the earlier one stands
    waiting_by_time_.erase(it->second);
  }
  const bool earliest = waiting_by_time_.empty() || at < waiting_by_time_.begin()->first.first;
  waiting_.insert_or_assign(key,
                            waiting_by_time_.emplace(std::pair(at, waiting_seq_++), key).first);
  // Blocked Gets sleep until the earliest delayed key: wake them to sleep less.
  if (earliest) ready_cv_.notify_all();
}

void WorkQueue::PushLocked(const std::string& key, Item& item, absl::Time now) {
  ReadyList& list = item.priority == Priority::kHigh ? high_ : low_;
  item.pos = list.insert(list.end(), Entry{key, now});
  item.queued = true;
  ready_cv_.notify_one();
}

void WorkQueue::PromoteDueLocked(absl::Time now) {
  while (!waiting_by_time_.empty() && waiting_by_time_.begin()->first.first <= now) {
    auto node = waiting_by_time_.extract(waiting_by_time_.begin());
    waiting_.erase(node.mapped());
    // Ready since it came due, not since someone noticed.
    AddLocked(node.mapped(), Priority::kHigh, node.key().first);
  }
}

std::optional<std::string> WorkQueue::PopLocked(absl::Time now) {
  ReadyList* from;
  if (high_.empty() && low_.empty()) return std::nullopt;
  if (high_.empty()) {
    from = &low_;
    low_had_turn_ = false;
  } else if (low_.empty()) {
    from = &high_;
    low_had_turn_ = false;
  } else {
    const absl::Time low_since = low_.front().queued_at;
    const bool aged = now - low_since > max_low_wait_ && low_since < high_.front().queued_at;
    if (aged && !low_had_turn_) {
      from = &low_;
      low_had_turn_ = true;
    } else {
      from = &high_;
      low_had_turn_ = false;
    }
  }
  Entry entry = std::move(from->front());
  from->pop_front();
  auto it = items_.find(entry.key);
  if (metrics_ != nullptr) metrics_->QueueLatency(name_, now - it->second.added);
  items_.erase(it);
  processing_.emplace(entry.key, now);
  ReportDepthLocked();
  return std::move(entry.key);
}

void WorkQueue::ReportDepthLocked() {
  if (metrics_ != nullptr) metrics_->Depth(name_, static_cast<int64_t>(high_.size() + low_.size()));
}

void WorkQueue::ShutDownLocked() {
  shutting_down_ = true;
  waiting_by_time_.clear();
  waiting_.clear();
  ready_cv_.notify_all();
}

}  // namespace workqueue
