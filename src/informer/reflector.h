// Reflector: keeps a sink in step with the API server for one resource
// (client-go's reflector.go, kube-rs's watcher.rs).
//
// List (paginated), then watch from the list's resourceVersion with bookmarks.
// A watch that ends is resumed from the last resourceVersion seen; 410 Gone
// relists from that version, and only if that is gone too, afresh; the relist
// reports what changed in the gap (store.h Replace). Failures back off with
// jitter (800 ms → 30 s, reset after 2 minutes of health); 429 backs off
// without relisting and honours Retry-After. A watchdog tears down a stream
// that delivers neither events nor bookmarks for longer than its deadline.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "informer/lister_watcher.h"
#include "util/clock.h"

namespace informer {

// What a reflector feeds (the informer implements it).
class ReflectorSink {
 public:
  virtual ~ReflectorSink() = default;
  // The full content after a (re)list.
  virtual void Replace(std::vector<kube::Object> objects) = 0;
  // One ADDED, MODIFIED or DELETED event.
  virtual void Apply(const kube::WatchEvent& event) = 0;
};

struct ReflectorOptions {
  std::string name;  // for logs: the resource
  int64_t page_size = 500;
  // The server ends each watch after a random timeoutSeconds in [min, 2*min),
  // so that many watches do not all reconnect at once.
  absl::Duration min_watch_timeout = absl::Minutes(5);
  absl::Duration backoff_initial = absl::Milliseconds(800);
  absl::Duration backoff_cap = absl::Seconds(30);
  absl::Duration backoff_reset_after = absl::Minutes(2);
  // The API server sends a bookmark about once a minute on a busy resource.
  absl::Duration watchdog = absl::Minutes(3);
  absl::Duration watchdog_poll = absl::Seconds(1);  // real time between checks
  const util::Clock* clock = nullptr;               // null: real clock
  // Observes every back-off wait before it happens (logs, tests).
  std::function<void(absl::Duration)> on_backoff;
};

struct ReflectorStats {
  int64_t lists = 0;    // successful (re)lists
  int64_t watches = 0;  // watch requests started
  int64_t events = 0;   // ADDED/MODIFIED/DELETED applied
  int64_t bookmarks = 0;
  int64_t gone = 0;    // 410s seen
  int64_t errors = 0;  // failed list/watch requests and broken streams
  int64_t watchdog_restarts = 0;
};

class Reflector {
 public:
  Reflector(ListerWatcher* lw, ReflectorSink* sink, ReflectorOptions options);

  // Runs until stop is cancelled. Call from one thread.
  void Run(util::Cancellation& stop);

  bool HasSynced() const;  // a first list has been delivered
  std::string LastResourceVersion() const;
  // When the reflector last heard from the server (a list, an event, a
  // bookmark, a watch opening); the watchdog's clock.
  absl::Time LastProgress() const;
  // Whether a watch stream is currently open (or being opened).
  bool Watching() const;
  // Whether the server is known to be there now: a watch has been open for
  // a second (a failed connect takes milliseconds), or a list, an event or
  // the end of a watch that was up came less than `within` ago. Unlike
  // LastProgress, attempts that fail do not count: the informer's staleness
  // (readiness) derives from it.
  bool Connected(absl::Duration within) const;
  ReflectorStats Stats() const;

 private:
  absl::Status ListAll(const std::string& resource_version);
  absl::Status WatchOnce(util::Cancellation& stop);
  void Progress(const std::string& rv);
  void WatchdogLoop(util::Cancellation& stop);
  void WaitAfter(util::Cancellation& stop, const absl::Status& why, absl::Duration d);
  void CountError(const absl::Status& s);

  ListerWatcher* const lw_;
  ReflectorSink* const sink_;
  const ReflectorOptions options_;
  util::RealClock real_clock_;
  const util::Clock* const clock_;

  mutable std::mutex mu_;
  bool synced_ = false;
  std::string rv_;
  absl::Time last_progress_ = absl::InfinitePast();
  absl::Time last_contact_ = absl::InfinitePast();  // Connected()
  absl::Time watch_opened_ = absl::InfinitePast();
  util::Cancellation* watch_cancel_ = nullptr;  // the open stream's
  ReflectorStats stats_;
};

}  // namespace informer
