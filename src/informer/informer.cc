#include "informer/informer.h"

namespace informer {

Informer::Informer(std::unique_ptr<ListerWatcher> lw, InformerOptions options)
    : lw_(std::move(lw)),
      options_(std::move(options)),
      store_(options_.packed),
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
  return !reflector_.Connected(options_.stale_after);
}

void Informer::Replace(std::vector<kube::Object> objects) {
  if (options_.transform)
    for (kube::Object& o : objects) o = options_.transform(std::move(o));
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

void Informer::WriteThrough(const kube::Object& answer) {
  const kube::Object obj = options_.transform ? options_.transform(answer) : answer;
  auto old = store_.Upsert(obj);
  if (old && old->ResourceVersion() == obj.ResourceVersion()) return;  // nothing new
  // A newer version kept, or a deletion already seen: not this answer's.
  if (auto now = store_.Get(obj.Key()); !now || now->ResourceVersion() != obj.ResourceVersion())
    return;
  for (EventHandler* h : handlers_) {
    if (old)
      h->OnUpdate(*old, obj);
    else
      h->OnAdd(obj);
  }
}

void Informer::Apply(const kube::WatchEvent& ev) {
  const kube::Object obj = options_.transform ? options_.transform(ev.object) : ev.object;
  if (ev.type == kube::WatchEvent::Type::kDeleted) {
    store_.Remove(obj.Key(), obj.ResourceVersion());
    // The server's final state of the object, whether or not it was cached.
    for (EventHandler* h : handlers_) h->OnDelete(obj);
    return;
  }
  auto old = store_.Upsert(obj);
  for (EventHandler* h : handlers_) {
    if (old)
      h->OnUpdate(*old, obj);
    else
      h->OnAdd(obj);
  }
}

}  // namespace informer
