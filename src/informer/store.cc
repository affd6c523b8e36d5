#include "informer/store.h"

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

void Store::AddIndex(const std::string& name, IndexFunc fn) {
  std::unique_lock l(mu_);
  index_funcs_[name] = std::move(fn);
  auto& index = indexes_[name];
  for (const auto& [key, obj] : items_)
    for (auto& v : index_funcs_[name](obj)) index[v].insert(key);
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
  std::unique_lock l(mu_);
  auto [it, inserted] = items_.try_emplace(key, obj);
  std::optional<kube::Object> old;
  if (!inserted) {
    old = std::move(it->second);
    it->second = obj;
    if (&old->json() != &obj.json()) old->MarkSuperseded();
  }
  IndexLocked(key, old ? &*old : nullptr, &obj);
  return old;
}

std::optional<kube::Object> Store::Remove(const std::string& key) {
  std::unique_lock l(mu_);
  auto it = items_.find(key);
  if (it == items_.end()) return std::nullopt;
  kube::Object old = std::move(it->second);
  items_.erase(it);
  old.MarkSuperseded();
  IndexLocked(key, &old, nullptr);
  return old;
}

std::vector<Store::Delta> Store::Replace(const std::vector<kube::Object>& objs) {
  std::vector<Delta> deltas;
  std::unique_lock l(mu_);
  absl::flat_hash_map<std::string, kube::Object> next;
  next.reserve(objs.size());
  for (const auto& obj : objs) {
    std::string key = obj.Key();
    auto old = items_.find(key);
    if (old == items_.end()) {
      deltas.push_back({std::nullopt, obj});
    } else if (old->second.ResourceVersion() != obj.ResourceVersion()) {
      deltas.push_back({old->second, obj});
    } else if (!obj.ResourceVersion().empty()) {
      // Unchanged: keep the cached document, so handles to it stay current
      // (Object::Superseded) and the relisted copy is freed.
      next.insert_or_assign(std::move(key), old->second);
      continue;
    }
    next.insert_or_assign(std::move(key), obj);
  }
  for (const auto& [key, obj] : items_) {
    auto now = next.find(key);
    if (now == next.end()) {
      deltas.push_back({obj, std::nullopt});
      obj.MarkSuperseded();
    } else if (&now->second.json() != &obj.json()) {
      obj.MarkSuperseded();
    }
  }
  items_.swap(next);
  // Rebuild the indexes: cheaper than diffing them after a relist.
  for (auto& [name, index] : indexes_) index.clear();
  for (const auto& [key, obj] : items_) IndexLocked(key, nullptr, &obj);
  return deltas;
}

std::optional<kube::Object> Store::Get(const std::string& key) const {
  std::shared_lock l(mu_);
  auto it = items_.find(key);
  if (it == items_.end()) return std::nullopt;
  return it->second;
}

std::vector<kube::Object> Store::List() const {
  std::shared_lock l(mu_);
  std::vector<kube::Object> out;
  out.reserve(items_.size());
  for (const auto& [key, obj] : items_) out.push_back(obj);
  return out;
}

std::vector<std::string> Store::Keys() const {
  std::shared_lock l(mu_);
  std::vector<std::string> out;
  out.reserve(items_.size());
  for (const auto& [key, obj] : items_) out.push_back(key);
  return out;
}

std::vector<kube::Object> Store::ByIndex(const std::string& index, const std::string& value) const {
  std::shared_lock l(mu_);
  std::vector<kube::Object> out;
  auto idx = indexes_.find(index);
  if (idx == indexes_.end()) return out;
  auto keys = idx->second.find(value);
  if (keys == idx->second.end()) return out;
  for (const auto& key : keys->second) out.push_back(items_.at(key));
  return out;
}

size_t Store::Size() const {
  std::shared_lock l(mu_);
  return items_.size();
}

}  // namespace informer
