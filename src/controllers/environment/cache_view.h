// CacheView: the planner's ClusterState over the informers' caches. Each
// cache is known by the name of its watch (controller.cc's table of watches):
// a read of a kube::Resource goes to the watch named by its plural, the
// team's pull credentials to the "registry-credentials" watch (another
// selection of Secrets). Objects an Environment owns are found through an
// index by its uid label.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "controllers/environment/cluster_state.h"
#include "controllers/environment/render_sync.h"
#include "controllers/environment/secrets_sync.h"
#include "informer/informer.h"

namespace controllers {

class CacheView final : public ClusterState, public CacheWriter {
 public:
  // The index Owned() reads; Add(..., owned = true) puts it on the store.
  static constexpr char kUidIndex[] = "environment-uid";

  // The watch RegistryCredentials reads.
  static constexpr char kRegistryCredentials[] = "registry-credentials";

  // The cache of the watch `name`, a selection of collection r; owned: what
  // Environments own, indexed by their uid (Owned). Before the informer starts.
  void Add(std::string name, const kube::Resource& r, informer::Informer* inf, bool owned);
  // The informer of the watch `name`, or null.
  informer::Informer* Cache(absl::string_view name) const;

  std::optional<kube::Object> Get(const kube::Resource& r, absl::string_view ns,
                                  absl::string_view name) const override;
  std::vector<kube::Object> Owned(const kube::Resource& r, absl::string_view uid) const override;
  std::shared_ptr<const kube::CacheMark> AddMark(const kube::Resource& r) const override;
  std::optional<kube::Object> RegistryCredentials(absl::string_view ns) const override;
  std::shared_ptr<const kube::CacheMark> RegistryCredentialsAddMark() const override;
  void Written(const kube::Resource& r, const kube::Object& answer) override;
  std::optional<TeamSecrets> Secrets(const std::string& key) const override;
  std::shared_ptr<const kube::CacheMark> SecretsAddMark() const override;
  // Where Secrets() reads; before the workers start. Null: none.
  void SetSecrets(const SecretsSync* secrets) { secrets_ = secrets; }
  std::shared_ptr<const RenderOutcome> Rendered(const std::string& key) const override;
  std::shared_ptr<const kube::CacheMark> RenderedAddMark() const override;
  // Where Rendered() reads; before the workers start. Null: none.
  void SetRenders(const RenderSync* renders) { renders_ = renders; }

 private:
  struct Watched {
    kube::Resource resource;
    informer::Informer* informer;
  };
  // The watch named r.plural, if it selects from r's collection.
  informer::Informer* For(const kube::Resource& r) const;
  static std::optional<kube::Object> Lookup(const informer::Informer* inf, absl::string_view ns,
                                            absl::string_view name);
  absl::flat_hash_map<std::string, Watched> caches_;
  const SecretsSync* secrets_ = nullptr;
  const RenderSync* renders_ = nullptr;
};

}  // namespace controllers
