// FakeClusterState: the caches the planner and the reconciler read
// (controllers::ClusterState), for unit tests. Objects live in an
// informer::Store per resource, packed as the operator's caches of the owned
// kinds are, so what a test reads behaves as what a pass reads: an object the
// cache replaces or drops is marked superseded, and every cache sets its add
// mark when it adds a key (pass_memo.h relies on both). The team's secrets are
// what the web app last answered, marked as SecretsSync marks them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "controllers/environment/cluster_state.h"
#include "controllers/environment/planner.h"
#include "controllers/environment/team_secrets.h"
#include "informer/store.h"
#include "kube/object.h"
#include "kube/resource.h"

namespace testing_support {

class FakeClusterState final : public controllers::ClusterState {
 public:
  // kNone: caches that keep no add mark (AddMark null), as a ClusterState
  // may: a pass that finds something absent there cannot be remembered.
  enum class Marks { kAdd, kNone };
  explicit FakeClusterState(Marks marks = Marks::kAdd) : marks_(marks) {}

  std::optional<kube::Object> Get(const kube::Resource& r, absl::string_view ns,
                                  absl::string_view name) const override;
  std::vector<kube::Object> Owned(const kube::Resource& r, absl::string_view uid) const override;
  // Every resource has a cache, as every watch of EnvironmentController has.
  // Null with Marks::kNone.
  std::shared_ptr<const kube::CacheMark> AddMark(const kube::Resource& r) const override;
  std::optional<controllers::TeamSecrets> Secrets(const std::string& key) const override;
  std::shared_ptr<const kube::CacheMark> SecretsAddMark() const override {
    return marks_ == Marks::kNone ? nullptr : secrets_added_;
  }

  // The cache of r (made on first use), for what a watch or a relist does.
  informer::Store& store(const kube::Resource& r) const;
  void Put(const kube::Resource& r, const kube::Object& o) { store(r).Upsert(o); }
  void Erase(const kube::Resource& r, absl::string_view ns, absl::string_view name);

  // Plays the API server for a plan's writes: what it applies or creates is
  // cached as `stored` returns it (default: AsStored(action)), what it deletes
  // is dropped.
  using StoreFn = std::function<kube::Object(const controllers::Action&)>;
  void Commit(const controllers::Plan& plan, const StoreFn& stored = nullptr);

  // What the web app last answered for Environment key ("<namespace>/<name>"):
  // the answer it replaces is marked, and a key's first answer sets the add mark.
  void SetSecrets(const std::string& key, controllers::TeamSecrets answer);
  // The operator restarted: nothing heard from the web app yet.
  void ForgetSecrets();

  // The chart renderer's outcome for Environment key (helm mode), marked as
  // RenderSync marks them.
  std::shared_ptr<const controllers::RenderOutcome> Rendered(const std::string& key) const override;
  std::shared_ptr<const kube::CacheMark> RenderedAddMark() const override {
    return marks_ == Marks::kNone ? nullptr : rendered_added_;
  }
  void SetRendered(const std::string& key, controllers::RenderOutcome outcome);

 private:
  Marks marks_;
  mutable std::map<std::string, informer::Store> stores_;  // by group/plural
  std::map<std::string, controllers::TeamSecrets> secrets_;
  std::shared_ptr<const kube::CacheMark> secrets_added_ = std::make_shared<const kube::CacheMark>();
  std::map<std::string, std::shared_ptr<const controllers::RenderOutcome>> rendered_;
  std::shared_ptr<const kube::CacheMark> rendered_added_ =
      std::make_shared<const kube::CacheMark>();
};

// An applied or created manifest as the API server stores it (and its watch
// then delivers it): at resourceVersion rv and generation (0: left out); a
// Deployment with a status that observed `generation` and, when ready, one
// ready and updated replica.
kube::Object AsStored(const controllers::Action& a, int64_t rv = 0, int64_t generation = 0,
                      bool ready = true);

}  // namespace testing_support
