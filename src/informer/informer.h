// Informer: a reflector feeding a store, and handlers told of each change
// (client-go's shared_informer.go). Handlers run on the reflector's thread and
// must be quick: the operator's only enqueue keys.
#pragma once

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
  // long: stale (readiness goes false). Reconnects inside it are normal.
  absl::Duration stale_after = absl::Seconds(60);
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
  bool HasSynced() const { return reflector_.HasSynced(); }
  bool Stale() const;
  const Reflector& reflector() const { return reflector_; }

 private:
  void Replace(std::vector<kube::Object> objects) override;
  void Apply(const kube::WatchEvent& event) override;

  std::unique_ptr<ListerWatcher> lw_;
  const InformerOptions options_;
  util::RealClock real_clock_;
  const util::Clock* const clock_;
  Store store_;
  std::vector<EventHandler*> handlers_;
  Reflector reflector_;
  kube::Cancellation stop_;
  std::thread thread_;
};

}  // namespace informer
