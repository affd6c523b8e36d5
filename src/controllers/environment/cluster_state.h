// ClusterState: what the planner may read of the cluster — the informers'
// caches, never the API server. Tests hand it a map.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "absl/strings/string_view.h"
#include "controllers/environment/naming.h"
#include "controllers/environment/render_request.h"
#include "controllers/environment/team_secrets.h"
#include "kube/object.h"
#include "kube/resource.h"

namespace controllers {

// Objects handed out are the cache's own documents: the cache marks one
// superseded (kube::Object::MarkSuperseded) when it replaces or drops it, as
// informer::Store does; the reconciler's pass memo relies on that.
class ClusterState {
 public:
  virtual ~ClusterState() = default;
  virtual std::optional<kube::Object> Get(const kube::Resource& r, absl::string_view ns,
                                          absl::string_view name) const = 0;
  // The cached objects of r labelled catalyst.dev/environment-uid=uid, in any
  // namespace: what an Environment owns, whatever its names are now.
  virtual std::vector<kube::Object> Owned(const kube::Resource& r, absl::string_view uid) const = 0;
  // A mark the cache of r sets (and replaces) whenever it adds an object, or
  // null if it keeps none: taken before a Get that finds nothing, it tells a
  // later reader whether that absence may have ended (pass_memo.h).
  virtual std::shared_ptr<const kube::CacheMark> AddMark(const kube::Resource&) const {
    return nullptr;
  }
  // The Secret the operator reads but does not own: the team's pull
  // credentials (registry-credentials) in a Project's namespace. The caches
  // keep them apart from the operator's own Secrets (another selection of the
  // same collection: the "registry-credentials" watch, controller.cc); a
  // state that keeps one collection of Secrets reads them there.
  virtual std::optional<kube::Object> RegistryCredentials(absl::string_view ns) const {
    return Get(kube::resources::kSecrets, ns, kRegistrySecretName);
  }
  // As AddMark, for the cache RegistryCredentials reads.
  virtual std::shared_ptr<const kube::CacheMark> RegistryCredentialsAddMark() const {
    return AddMark(kube::resources::kSecrets);
  }
  // What the web app last said of the secrets of Environment key
  // ("<namespace>/<name>"; secrets_sync.h), and the mark set when an outcome
  // appears for a key that had none. None by default: no web app.
  virtual std::optional<TeamSecrets> Secrets(const std::string& /*key*/) const {
    return std::nullopt;
  }
  virtual std::shared_ptr<const kube::CacheMark> SecretsAddMark() const { return nullptr; }
  // The chart renderer's last outcome for Environment key (render_sync.h),
  // whatever request it answers, and the mark set when an outcome appears for
  // a key that had none. None by default: nothing renders.
  virtual std::shared_ptr<const RenderOutcome> Rendered(const std::string& /*key*/) const {
    return nullptr;
  }
  virtual std::shared_ptr<const kube::CacheMark> RenderedAddMark() const { return nullptr; }
};

// Where the reconciler hands what the API server answered to its writes: the
// caches (informer::Informer::WriteThrough), so that the next pass sees the
// operator's own writes even while a watch lags or is broken, and does not
// write them again. Thread-safe.
class CacheWriter {
 public:
  virtual ~CacheWriter() = default;
  virtual void Written(const kube::Resource& r, const kube::Object& answer) = 0;
};

}  // namespace controllers
