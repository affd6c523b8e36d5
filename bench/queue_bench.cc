// Work queue figures (printed, nothing asserted):
//  1. throughput: distinct keys through Add -> Get -> reconcile (nothing) -> Done
//     with 8 workers, keys/s;
//  2. live-event latency under a resync: every cycle re-adds 10,000 keys as
//     kLow in one burst (a 5 s resync, compressed to 1 s), while live keys are
//     added every 5 ms as kHigh; workers spend ~50 us per key. Prints p50/p99/
//     max of a live key's Add -> reconcile start, and the same with the resync
//     keys at kHigh (one FIFO) for comparison.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "workqueue/work_queue.h"
#include "workqueue/worker_pool.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kWorkers = 8;

void Throughput() {
  constexpr int kKeys = 200000;
  std::vector<std::string> keys;
  keys.reserve(kKeys);
  for (int i = 0; i < kKeys; ++i) keys.push_back(absl::StrCat("default/object-", i));

  double best = 0;
  for (int round = 0; round < 3; ++round) {
    workqueue::WorkQueue q(workqueue::WorkQueueOptions{.name = "bench"});
    std::atomic<int> done{0};
    workqueue::WorkerPool pool(&q, kWorkers, [&](const std::string&) {
      done.fetch_add(1, std::memory_order_relaxed);
      return workqueue::ReconcileResult{};
    });
    pool.Start();
    const auto t0 = Clock::now();
    for (const std::string& key : keys) q.Add(key);
    while (done.load() < kKeys) absl::SleepFor(absl::Microseconds(200));
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    best = std::max(best, kKeys / secs);
    pool.Stop(absl::Seconds(10));
  }
  std::printf("queue_throughput: %d keys, %d workers, 1 producer: %.0f keys/s\n", kKeys, kWorkers,
              best);
}

void Spin(std::chrono::microseconds d) {
  const auto until = Clock::now() + d;
  while (Clock::now() < until) {
  }
}

struct LatencyFigures {
  double p50_ms, p99_ms, max_ms;
  size_t samples;
};

LatencyFigures LiveLatency(workqueue::Priority resync_priority) {
  constexpr int kResyncKeys = 10000;
  constexpr int kCycles = 5;
  constexpr auto kCycle = std::chrono::milliseconds(1000);
  constexpr auto kLiveEvery = std::chrono::milliseconds(5);
  constexpr int kLivePerCycle = kCycle / kLiveEvery;
  constexpr int kLive = kCycles * kLivePerCycle;

  std::vector<std::string> resync_keys;
  resync_keys.reserve(kResyncKeys);
  for (int i = 0; i < kResyncKeys; ++i) resync_keys.push_back(absl::StrCat("default/cm-", i));
  // Indexed by live key number: written before the Add, read after the Get
  // (the queue's lock orders the two).
  std::vector<Clock::time_point> added(kLive);
  std::vector<double> latency_ms(kLive, -1);

  workqueue::WorkQueue q(workqueue::WorkQueueOptions{.name = "bench"});
  workqueue::WorkerPool pool(&q, kWorkers, [&](const std::string& key) {
    int n;
    if (absl::StartsWith(key, "live/") && absl::SimpleAtoi(absl::string_view(key).substr(5), &n)) {
      latency_ms[n] = std::chrono::duration<double, std::milli>(Clock::now() - added[n]).count();
    }
    Spin(std::chrono::microseconds(50));
    return workqueue::ReconcileResult{};
  });
  pool.Start();

  int live = 0;
  const auto start = Clock::now();
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    const auto cycle_start = start + cycle * kCycle;
    std::this_thread::sleep_until(cycle_start);
    for (const std::string& key : resync_keys) q.Add(key, resync_priority);
    for (int i = 0; i < kLivePerCycle; ++i, ++live) {
      std::this_thread::sleep_until(cycle_start + i * kLiveEvery);
      added[live] = Clock::now();
      q.Add(absl::StrCat("live/", live));
    }
  }
  // Let the last keys through, then stop.
  while (q.Len() > 0) absl::SleepFor(absl::Milliseconds(5));
  pool.Stop(absl::Seconds(30));

  std::vector<double> got;
  for (double l : latency_ms)
    if (l >= 0) got.push_back(l);
  std::sort(got.begin(), got.end());
  if (got.empty()) return {0, 0, 0, 0};
  auto pct = [&](double p) {
    return got[std::min(got.size() - 1, static_cast<size_t>(p * static_cast<double>(got.size())))];
  };
  return {pct(0.50), pct(0.99), got.back(), got.size()};
}

}  // namespace

int main() {
  Throughput();
  for (workqueue::Priority p : {workqueue::Priority::kLow, workqueue::Priority::kHigh}) {
    const LatencyFigures f = LiveLatency(p);
    std::printf(
        "live_latency (10000 resync keys as %s, %d workers, 50us/key): %zu live keys, "
        "p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
        p == workqueue::Priority::kLow ? "kLow" : "kHigh (FIFO baseline)", kWorkers, f.samples,
        f.p50_ms, f.p99_ms, f.max_ms);
  }
  return 0;
}
