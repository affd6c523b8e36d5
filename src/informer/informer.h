// Informer: a reflector feeding a store, and handlers told of each change
// (client-go's shared_informer.go). Handlers run on the reflector's thread (and
// a WriteThrough caller's) and must be quick and thread-safe: the operator's
// only enqueue keys.
#pragma once

#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "informer/lister_watcher.h"
#include "informer/reflector.h"
#include "informer/store.h"

namespace informer {

class EventHandler {
 public:
  virtual ~EventHandler() = default;
  virtual void OnAdd(const kube::Object& obj) = 0;
  virtual void OnUpdate(const kube::Object& old, const kube::Object& now) = 0;
  virtual void OnDelete(const kube::Object& obj) = 0;
};

struct InformerOptions {
  ReflectorOptions reflector;
  // Synced but without an open watch or any word from the server for this
  // long: stale (readiness goes false). Reconnects take well under a second
  // (first backoff 0.8 s); 10 s without a watch means the API server is
  // unreachable, which /readyz should say (docs/reliability.md, API server faults).
  absl::Duration stale_after = absl::Seconds(10);
  // Applied to every object on ingest — listed, watched, deleted — before
  // the store or a handler sees it (client-go's SetTransform): what the cache
  // keeps. Runs on the reflector's thread. Empty: objects kept as decoded.
  std::function<kube::Object(kube::Object)> transform;
  // The store holds compact JSON and readers get parsed copies (Store's
  // packed): for kinds read on a full plan only, not on every resync.
  bool packed = false;
};

class Informer final : private ReflectorSink {
 public:
  Informer(std::unique_ptr<ListerWatcher> lw, InformerOptions options);
  ~Informer() override;

  // Both before Start().
  Store& store() { return store_; }
  void AddHandler(EventHandler* handler) { handlers_.push_back(handler); }

  void Start();
  void Stop();  // idempotent; joins the thread

  const Store& store() const { return store_; }
  // What the API server answered to a write of the object (a create, an
  // apply, a status patch), cached at once as if the watch had delivered it,
  // handlers told as they would be, unless the cache already holds that
  // version or a newer one (then nothing happens; the watch event of the same
  // version later is no change either). A watch that lags or broke (until its
  // relist) then cannot make the next pass see the object as it was before
  // the write and write it again (docs/reliability.md, "Write once").
  // Thread-safe; handlers may then run on the caller's thread.
  void WriteThrough(const kube::Object& answer);
  bool HasSynced() const { return reflector_.HasSynced(); }
  bool Stale() const;
  const Reflector& reflector() const { return reflector_; }

 private:
  void Replace(std::vector<kube::Object> objects) override;
  void Apply(const kube::WatchEvent& event) override;

  std::unique_ptr<ListerWatcher> lw_;
  const InformerOptions options_;
  Store store_;
  std::vector<EventHandler*> handlers_;
  Reflector reflector_;
  util::Cancellation stop_;
  std::thread thread_;
};

}  // namespace informer
