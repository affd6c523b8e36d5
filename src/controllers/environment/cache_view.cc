#include "controllers/environment/cache_view.h"

#include <string>

#include "controllers/environment/naming.h"

namespace controllers {

void CacheView::Add(const kube::Resource& r, informer::Informer* inf, bool owned) {
  if (owned) inf->store().AddIndex(kUidIndex, informer::ByLabel(kEnvironmentUidLabel));
  informers_.emplace_back(&r, inf);
}

informer::Informer* CacheView::Find(const kube::Resource& res) const {
  // The constant itself first, then an equal resource (tests and callers
  // holding a copy); plurals are compared before groups.
  for (const auto& [r, inf] : informers_)
    if (r == &res) return inf;
  for (const auto& [r, inf] : informers_)
    if (r->plural == res.plural && r->group == res.group) return inf;
  return nullptr;
}

std::optional<kube::Object> CacheView::Get(const kube::Resource& res, absl::string_view ns,
                                           absl::string_view name) const {
  // Called ~15 times per Environment per resync (the reconciler's check of
  // what its last pass read): the key is built in a per-thread buffer rather
  // than a new string each time.
  thread_local std::string key;
  const informer::Informer* inf = Find(res);
  if (!inf) return std::nullopt;
  key.assign(ns.data(), ns.size());
  if (!ns.empty()) key += '/';
  key.append(name.data(), name.size());
  return inf->store().Get(key);
}

std::vector<kube::Object> CacheView::Owned(const kube::Resource& res, absl::string_view uid) const {
  const informer::Informer* inf = Find(res);
  if (!inf) return {};
  return inf->store().ByIndex(kUidIndex, std::string(uid));
}

std::shared_ptr<const kube::CacheMark> CacheView::AddMark(const kube::Resource& res) const {
  const informer::Informer* inf = Find(res);
  return inf ? inf->store().AddMark() : nullptr;
}

std::optional<TeamSecrets> CacheView::Secrets(const std::string& key) const {
  return secrets_ ? secrets_->Get(key) : std::nullopt;
}

std::shared_ptr<const kube::CacheMark> CacheView::SecretsAddMark() const {
  return secrets_ ? secrets_->AddMark() : nullptr;
}

void CacheView::Written(const kube::Resource& res, const kube::Object& answer) {
  if (informer::Informer* inf = Find(res)) inf->WriteThrough(answer);
}

}  // namespace controllers
