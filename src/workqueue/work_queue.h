// WorkQueue: the keys of objects waiting to be reconciled, shared by the event
// handlers that add them and the workers that process them (client-go's
// workqueue: queue + delaying queue + rate-limiting queue, in one class).
//
// - A key is queued at most once, however often it is added.
// - A key is handed to one worker at a time: added while a worker has it, it is
//   marked dirty and queued again when that worker calls Done.
// - Two priorities: kHigh for live events, kLow for keys the periodic resync
//   re-queues, so that a resync of every object never delays a live event. A
//   kLow key that has waited longer than max_low_priority_wait is "aged" and
//   no longer waits for the kHigh keys to run out (see Get).
// - Delayed keys (AddAfter, AddRateLimited) need no timer thread: whoever
//   calls into the queue moves the keys that have come due, and a blocked Get
//   sleeps until the earliest of them.
// - Cost: Add, Get and Done are O(1) (a hash map and two linked lists; a
//   promotion is a splice), AddAfter and a delayed key coming due O(log n).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "util/clock.h"
#include "workqueue/queue_metrics.h"
#include "workqueue/rate_limiter.h"

namespace workqueue {

enum class Priority { kHigh, kLow };  // kLow: keys re-queued by the periodic resync

struct WorkQueueOptions {
  std::string name;                                   // metrics label
  absl::Duration base_delay = absl::Milliseconds(5);  // per-item exponential backoff
  absl::Duration max_delay = absl::Minutes(5);        // its cap
  double qps = 0;                                     // overall token bucket; qps <= 0: off
  int burst = 0;
  // Aging: a kLow key waiting longer than this takes turns with kHigh keys.
  absl::Duration max_low_priority_wait = absl::Seconds(1);
  // Null: the real clock. With any other clock a Get blocked while keys are
  // delayed re-reads it every few milliseconds, so that a test advancing a fake
  // clock is noticed.
  const util::Clock* clock = nullptr;
  QueueMetrics* metrics = nullptr;  // null: none
};

class WorkQueue {
 public:
  explicit WorkQueue(WorkQueueOptions opts);
  // Shuts down. Nobody may still be blocked in Get (stop the workers first).
  ~WorkQueue();

  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues `key` unless it is already queued; a kLow key re-added as kHigh is
  // moved to the kHigh queue. Ignored after ShutDown.
  void Add(const std::string& key, Priority p = Priority::kHigh);
  // Queues `key` (as kHigh) once `delay` has passed; delay <= 0 is Add. While a
  // key is waiting, a later AddAfter that would make it ready sooner wins and
  // one that would make it ready later is ignored.
  void AddAfter(const std::string& key, absl::Duration delay);
  // AddAfter with the larger of the key's backoff and the overall token
  // bucket's delay (see RateLimiter); counts a retry (NumRequeues, metrics).
  // Only these adds spend tokens, as with client-go's rate-limiting queue.
  void AddRateLimited(const std::string& key);
  // Resets the key's backoff. Does not take it out of the queue.
  void Forget(const std::string& key);
  // AddRateLimited calls since the last Forget.
  int NumRequeues(const std::string& key) const;

  // Hands out the next key, blocking until there is one. Returns nullopt once
  // shut down and no key is ready. The caller owns the key until Done(key).
  //
  // Order: kHigh keys before kLow keys, FIFO within each, except that while
  // the oldest kLow key is aged (and older than the oldest kHigh key) the two
  // queues take turns, starting with the kLow key. Turns rather than "aged keys
  // first": a resync backlog longer than the aging window would otherwise sit
  // wholly in front of live events.
  std::optional<std::string> Get();
  // As Get, but also nullopt if no key became ready within `max_wait` (real
  // time; ZeroDuration only looks). With a fake clock: Advance, then
  // Get(absl::ZeroDuration()).
  std::optional<std::string> Get(absl::Duration max_wait);
  // The caller has finished with `key`; if it was added meanwhile it is queued
  // again (with the higher of the priorities it was added with).
  void Done(const std::string& key);

  // Refuses new adds and drops delayed keys; Get hands out the keys already
  // queued (and the dirty ones their Done re-queues), then returns nullopt.
  void ShutDown();
  // ShutDown, then waits until every key handed out has been Done.
  void ShutDownWithDrain();
  bool ShuttingDown() const;

  // Keys ready to be handed out now (both priorities), not delayed ones.
  size_t Len() const;
  // Sum of how long each key handed out and not yet Done has been out.
  absl::Duration UnfinishedWork() const;
  // How long the key out the longest has been out (zero if none is).
  absl::Duration LongestRunning() const;

 private:
  struct Entry {
    std::string key;
    absl::Time queued_at;  // when it joined its current list
  };
  using ReadyList = std::list<Entry>;
  // A key that needs processing: queued in a ready list, or dirty (re-added
  // while a worker has it, so not in a list until that worker's Done).
  struct Item {
    Priority priority = Priority::kHigh;
    bool queued = false;
    ReadyList::iterator pos;  // valid while queued
    absl::Time added;         // for the latency metric
  };
  // Delayed keys by (ready time, sequence): the sequence keeps equal times FIFO.
  using WaitingMap = std::map<std::pair<absl::Time, uint64_t>, std::string>;

  // real_deadline: absl::Now() time; InfiniteFuture waits for a key or shutdown.
  std::optional<std::string> GetUntil(absl::Time real_deadline);
  // The ...Locked functions are called with mu_ held.
  void AddLocked(const std::string& key, Priority p, absl::Time now);
  void AddAfterLocked(const std::string& key, absl::Duration delay);
  void PushLocked(const std::string& key, Item& item, absl::Time now);
  void PromoteDueLocked(absl::Time now);
  std::optional<std::string> PopLocked(absl::Time now);
  void ReportDepthLocked();
  void ShutDownLocked();

  const std::string name_;
  const absl::Duration max_low_wait_;
  util::RealClock real_clock_;
  const util::Clock* const clock_;
  const bool poll_clock_;  // an injected clock: re-read it while waiting
  QueueMetrics* const metrics_;
  RateLimiter limiter_;  // thread-safe on its own; never called with mu_ held

  // std::mutex, not absl::Mutex: see util::Cancellation (TSan must see it).
  // Everything below is guarded by mu_.
  mutable std::mutex mu_;
  std::condition_variable ready_cv_;    // a key became ready, the earliest delay moved, or shutdown
  std::condition_variable drained_cv_;  // processing_ became empty
  absl::flat_hash_map<std::string, Item> items_;
  ReadyList high_;
  ReadyList low_;
  // Set when Get served an aged kLow key ahead of a waiting kHigh key, so the
  // next such choice goes to the kHigh key.
  bool low_had_turn_ = false;
  // Keys handed out and not yet Done, with when they were handed out.
  absl::flat_hash_map<std::string, absl::Time> processing_;
  WaitingMap waiting_by_time_;
  absl::flat_hash_map<std::string, WaitingMap::iterator> waiting_;
  uint64_t waiting_seq_ = 0;
  bool shutting_down_ = false;
};

}  // namespace workqueue
