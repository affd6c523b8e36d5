// CacheView: the planner's ClusterState over the informers' caches — each
// informer known by its resource constant's address (two informers may select
// from one collection: kRegistrySourceSecrets), objects an Environment owns
// found through an index by its uid label.
#pragma once

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "controllers/environment/cluster_state.h"
#include "controllers/environment/secrets_sync.h"
#include "informer/informer.h"

namespace controllers {

class CacheView final : public ClusterState, public CacheWriter {
 public:
  // The index Owned() reads; Add(..., owned = true) puts it on the store.
  static constexpr char kUidIndex[] = "environment-uid";

  // r must be a constant of static lifetime. Before the informer starts.
  void Add(const kube::Resource& r, informer::Informer* inf, bool owned);

  std::optional<kube::Object> Get(const kube::Resource& r, absl::string_view ns,
                                  absl::string_view name) const override;
  std::vector<kube::Object> Owned(const kube::Resource& r, absl::string_view uid) const override;
  std::shared_ptr<const kube::CacheMark> AddMark(const kube::Resource& r) const override;
  void Written(const kube::Resource& r, const kube::Object& answer) override;
  std::optional<TeamSecrets> Secrets(const std::string& key) const override;
  std::shared_ptr<const kube::CacheMark> SecretsAddMark() const override;
  // Where Secrets() reads; before the workers start. Null: none.
  void SetSecrets(const SecretsSync* secrets) { secrets_ = secrets; }

 private:
  informer::Informer* Find(const kube::Resource& r) const;
  std::vector<std::pair<const kube::Resource*, informer::Informer*>> informers_;
  const SecretsSync* secrets_ = nullptr;
};

}  // namespace controllers
