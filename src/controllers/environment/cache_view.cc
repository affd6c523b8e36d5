#include "controllers/environment/cache_view.h"

#include <string>

#include "controllers/environment/naming.h"

namespace controllers {

void CacheView::Add(std::string name, const kube::Resource& r, informer::Informer* inf,
                    bool owned) {
  if (owned) inf->store().AddIndex(kUidIndex, informer::ByLabel(kEnvironmentUidLabel));
  caches_.insert_or_assign(std::move(name), Watched{r, inf});
}

informer::Informer* CacheView::Cache(absl::string_view name) const {
  auto it = caches_.find(name);
  return it == caches_.end() ? nullptr : it->second.informer;
}

informer::Informer* CacheView::For(const kube::Resource& res) const {
  auto it = caches_.find(res.plural);
  if (it == caches_.end() || it->second.resource.group != res.group) return nullptr;
  return it->second.informer;
}

std::optional<kube::Object> CacheView::Lookup(const informer::Informer* inf, absl::string_view ns,
                                              absl::string_view name) {
  // Called ~15 times per Environment per resync (the reconciler's check of
  // what its last pass read): the key is built in a per-thread buffer rather
  // than a new string each time.
  thread_local std::string key;
  if (!inf) return std::nullopt;
  key.assign(ns.data(), ns.size());
  if (!ns.empty()) key += '/';
  key.append(name.data(), name.size());
  return inf->store().Get(key);
}

std::optional<kube::Object> CacheView::Get(const kube::Resource& res, absl::string_view ns,
                                           absl::string_view name) const {
  return Lookup(For(res), ns, name);
}

std::vector<kube::Object> CacheView::Owned(const kube::Resource& res, absl::string_view uid) const {
  const informer::Informer* inf = For(res);
  if (!inf) return {};
  return inf->store().ByIndex(kUidIndex, std::string(uid));
}

std::shared_ptr<const kube::CacheMark> CacheView::AddMark(const kube::Resource& res) const {
  const informer::Informer* inf = For(res);
  return inf ? inf->store().AddMark() : nullptr;
}

std::optional<kube::Object> CacheView::RegistryCredentials(absl::string_view ns) const {
  return Lookup(Cache(kRegistryCredentials), ns, kRegistrySecretName);
}

std::shared_ptr<const kube::CacheMark> CacheView::RegistryCredentialsAddMark() const {
  const informer::Informer* inf = Cache(kRegistryCredentials);
  return inf ? inf->store().AddMark() : nullptr;
}

std::optional<TeamSecrets> CacheView::Secrets(const std::string& key) const {
  return secrets_ ? secrets_->Get(key) : std::nullopt;
}

std::shared_ptr<const kube::CacheMark> CacheView::SecretsAddMark() const {
  return secrets_ ? secrets_->AddMark() : nullptr;
}

void CacheView::Written(const kube::Resource& res, const kube::Object& answer) {
  if (informer::Informer* inf = For(res)) inf->WriteThrough(answer);
}

std::shared_ptr<const RenderOutcome> CacheView::Rendered(const std::string& key) const {
  return renders_ ? renders_->Get(key) : nullptr;
}

std::shared_ptr<const kube::CacheMark> CacheView::RenderedAddMark() const {
  return renders_ ? renders_->AddMark() : nullptr;
}

}  // namespace controllers
