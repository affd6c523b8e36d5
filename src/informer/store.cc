#include "informer/store.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/strings/numbers.h"

namespace informer {

std::vector<std::string> ByNamespace(const kube::Object& o) {
  auto ns = o.Namespace();
  if (ns.empty()) return {};
  return {std::string(ns)};
}

IndexFunc ByLabel(std::string label) {
  return [label = std::move(label)](const kube::Object& o) -> std::vector<std::string> {
    auto v = o.Label(label);
    if (v.empty()) return {};
    return {std::string(v)};
  };
}

Store::Entry Store::Hold(const kube::Object& o) const {
  if (packed_) return {{}, kube::PackedObject::Pack(o)};
  return {o, {}};
}

kube::Object Store::Read(const Entry& e) { return e.packed ? e.packed.Unpack() : e.object; }

absl::string_view Store::Version(const Entry& e) {
  return e.packed ? e.packed.ResourceVersion() : e.object.ResourceVersion();
}

void Store::Mark(const Entry& e) {
  if (e.packed)
    e.packed.MarkSuperseded();
  else
    e.object.MarkSuperseded();
}

bool Store::Same(const Entry& a, const Entry& b) {
  if (a.packed || b.packed) return a.packed == b.packed;
  return a.object && b.object && &a.object.json() == &b.object.json();
}

// resourceVersions are opaque to clients, except that kube-apiserver hands out
// etcd revisions, which only grow: compared as numbers where both are (as the
// scheduler's assume cache does), and never newer where either is not.
bool Store::Newer(const Entry& cached, const kube::Object& incoming) {
  uint64_t a = 0, b = 0;
  return absl::SimpleAtoi(Version(cached), &a) &&
         absl::SimpleAtoi(incoming.ResourceVersion(), &b) && a > b;
}

void Store::AddIndex(const std::string& name, IndexFunc fn) {
  std::unique_lock l(mu_);
  index_funcs_[name] = std::move(fn);
  auto& index = indexes_[name];
  for (const auto& [key, e] : items_)
    for (auto& v : index_funcs_[name](Read(e))) index[v].insert(key);
}

void Store::IndexLocked(const std::string& key, const kube::Object* old, const kube::Object* now) {
  for (const auto& [name, fn] : index_funcs_) {
    auto& index = indexes_[name];
    if (old)
      for (const auto& v : fn(*old)) {
        auto it = index.find(v);
        if (it == index.end()) continue;
        it->second.erase(key);
        if (it->second.empty()) index.erase(it);
      }
    if (now)
      for (auto& v : fn(*now)) index[v].insert(key);
  }
}

std::optional<kube::Object> Store::Upsert(const kube::Object& obj) {
  const std::string key = obj.Key();
  Entry held = Hold(obj);  // packing (serializing) outside the lock
  std::unique_lock l(mu_);
  if (auto t = tombstones_.find(key); t != tombstones_.end()) {
    uint64_t v = 0;
    if (absl::SimpleAtoi(obj.ResourceVersion(), &v) && v <= t->second) return std::nullopt;
  }
  auto [it, inserted] = items_.try_emplace(key);
  std::optional<kube::Object> old;
  if (inserted) {
    it->second = std::move(held);
    MarkAddedLocked();
  } else if (!packed_ && &it->second.object.json() == &obj.json()) {
    old = obj;  // a re-delivered document is still the cached one
  } else if (Newer(it->second, obj)) {
    return Read(it->second);  // written through: the watch has not caught up
  } else {
    Entry prev = std::exchange(it->second, std::move(held));
    Mark(prev);
    old = Read(prev);
  }
  IndexLocked(key, old ? &*old : nullptr, &obj);
  return old;
}

std::optional<kube::Object> Store::Remove(const std::string& key, absl::string_view deleted_at) {
  std::unique_lock l(mu_);
  if (uint64_t v = 0; absl::SimpleAtoi(deleted_at, &v)) {
    if (tombstones_.insert_or_assign(key, v).second) tombstone_order_.push_back(key);
    if (tombstone_order_.size() > kTombstones) {
      tombstones_.erase(tombstone_order_.front());
      tombstone_order_.pop_front();
    }
  }
  auto it = items_.find(key);
  if (it == items_.end()) return std::nullopt;
  Entry old = std::move(it->second);
  items_.erase(it);
  Mark(old);
  kube::Object obj = Read(old);
  IndexLocked(key, &obj, nullptr);
  return obj;
}

std::vector<Store::Delta> Store::Replace(const std::vector<kube::Object>& objs) {
  std::vector<Delta> deltas;
  std::unique_lock l(mu_);
  absl::flat_hash_map<std::string, Entry> next;
  next.reserve(objs.size());
  for (const auto& obj : objs) {
    std::string key = obj.Key();
    auto old = items_.find(key);
    if (old == items_.end()) {
      deltas.push_back({std::nullopt, obj});
    } else if (Newer(old->second, obj)) {
      next.insert_or_assign(std::move(key), old->second);
      continue;
    } else if (Version(old->second) != obj.ResourceVersion()) {
      deltas.push_back({Read(old->second), obj});
    } else if (!obj.ResourceVersion().empty()) {
      // Unchanged: keep the cached document, so handles to it stay current
      // (Object::Superseded) and the relisted copy is freed.
      next.insert_or_assign(std::move(key), old->second);
      continue;
    }
    next.insert_or_assign(std::move(key), Hold(obj));
  }
  for (const auto& [key, e] : items_) {
    auto now = next.find(key);
    if (now == next.end()) {
      deltas.push_back({Read(e), std::nullopt});
      Mark(e);
    } else if (!Same(now->second, e)) {
      Mark(e);
    }
  }
  items_.swap(next);
  if (std::any_of(deltas.begin(), deltas.end(), [](const Delta& d) { return !d.old; }))
    MarkAddedLocked();
  // Rebuild the indexes: cheaper than diffing them after a relist.
  for (auto& [name, index] : indexes_) index.clear();
  if (!index_funcs_.empty())
    for (const auto& [key, e] : items_) {
      const kube::Object obj = Read(e);
      IndexLocked(key, nullptr, &obj);
    }
  return deltas;
}

std::optional<kube::Object> Store::Get(const std::string& key) const {
  Entry e;
  {
    std::shared_lock l(mu_);
    auto it = items_.find(key);
    if (it == items_.end()) return std::nullopt;
    e = it->second;
  }
  kube::Object o = Read(e);  // parsing (packed) outside the lock
  if (!o) return std::nullopt;
  return o;
}

std::vector<kube::Object> Store::List() const {
  std::shared_lock l(mu_);
  std::vector<kube::Object> out;
  out.reserve(items_.size());
  for (const auto& [key, e] : items_) out.push_back(Read(e));
  return out;
}

std::vector<std::string> Store::Keys() const {
  std::shared_lock l(mu_);
  std::vector<std::string> out;
  out.reserve(items_.size());
  for (const auto& [key, e] : items_) out.push_back(key);
  return out;
}

std::vector<kube::Object> Store::ByIndex(const std::string& index, const std::string& value) const {
  std::shared_lock l(mu_);
  std::vector<kube::Object> out;
  auto idx = indexes_.find(index);
  if (idx == indexes_.end()) return out;
  auto keys = idx->second.find(value);
  if (keys == idx->second.end()) return out;
  for (const auto& key : keys->second) out.push_back(Read(items_.at(key)));
  return out;
}

void Store::MarkAddedLocked() {
  add_mark_->Set();
  add_mark_ = std::make_shared<const kube::CacheMark>();
}

std::shared_ptr<const kube::CacheMark> Store::AddMark() const {
  std::shared_lock l(mu_);
  return add_mark_;
}

size_t Store::Size() const {
  std::shared_lock l(mu_);
  return items_.size();
}

}  // namespace informer
