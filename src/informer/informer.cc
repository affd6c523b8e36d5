#include "informer/informer.h"

namespace informer {

Informer::Informer(std::unique_ptr<ListerWatcher> lw, InformerOptions options)
    : lw_(std::move(lw)),
      options_(std::move(options)),
      clock_(options_.reflector.clock ? options_.reflector.clock : &real_clock_),
      reflector_(lw_.get(), this, options_.reflector) {}

Informer::~Informer() { Stop(); }

void Informer::Start() {
  thread_ = std::thread([this] { reflector_.Run(stop_); });
}

void Informer::Stop() {
  stop_.Cancel();
  if (thread_.joinable()) thread_.join();
}

bool Informer::Stale() const {
  if (!reflector_.HasSynced()) return false;  // not synced is its own state
  return !reflector_.Watching() && clock_->Now() - reflector_.LastProgress() > options_.stale_after;
}

void Informer::Replace(std::vector<kube::Object> objects) {
  for (const auto& d : store_.Replace(objects)) {
    for (EventHandler* h : handlers_) {
      if (!d.old)
        h->OnAdd(*d.now);
      else if (!d.now)
        h->OnDelete(*d.old);  // deleted while we were not watching
      else
        h->OnUpdate(*d.old, *d.now);
    }
  }
}

void Informer::Apply(const kube::WatchEvent& ev) {
  if (ev.type == kube::WatchEvent::Type::kDeleted) {
    store_.Remove(ev.object.Key());
    // The server's final state of the object, whether or not it was cached.
    for (EventHandler* h : handlers_) h->OnDelete(ev.object);
    return;
  }
  auto old = store_.Upsert(ev.object);
  for (EventHandler* h : handlers_) {
    if (old)
      h->OnUpdate(*old, ev.object);
    else
      h->OnAdd(ev.object);
  }
}

}  // namespace informer
