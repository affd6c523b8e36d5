#include "support/fake_cluster_state.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "kube/json_builder.h"
#include "support/environment_fixture.h"

namespace testing_support {

using controllers::Action;

informer::Store& FakeClusterState::store(const kube::Resource& r) const {
  return stores_.try_emplace(absl::StrCat(r.group, "/", r.plural), /*packed=*/true).first->second;
}

std::optional<kube::Object> FakeClusterState::Get(const kube::Resource& r, absl::string_view ns,
                                                  absl::string_view name) const {
  return store(r).Get(ns.empty() ? std::string(name) : absl::StrCat(ns, "/", name));
}

std::vector<kube::Object> FakeClusterState::Owned(const kube::Resource& r,
                                                  absl::string_view uid) const {
  std::vector<kube::Object> out;
  for (kube::Object& o : store(r).List())
    if (o.Label("catalyst.dev/environment-uid") == uid) out.push_back(std::move(o));
  return out;
}

std::shared_ptr<const kube::CacheMark> FakeClusterState::AddMark(const kube::Resource& r) const {
  if (marks_ == Marks::kNone) return nullptr;
  return store(r).AddMark();
}

void FakeClusterState::Erase(const kube::Resource& r, absl::string_view ns,
                             absl::string_view name) {
  store(r).Remove(ns.empty() ? std::string(name) : absl::StrCat(ns, "/", name));
}

void FakeClusterState::Commit(const controllers::Plan& plan, const StoreFn& stored) {
  for (const Action& a : plan.actions) {
    if (a.type == Action::Type::kApply || a.type == Action::Type::kCreate)
      Put(a.resource, stored ? stored(a) : AsStored(a));
    else if (a.type == Action::Type::kDelete)
      Erase(a.resource, a.ns, a.name);
  }
}

std::optional<controllers::TeamSecrets> FakeClusterState::Secrets(const std::string& key) const {
  auto it = secrets_.find(key);
  if (it == secrets_.end()) return std::nullopt;
  return it->second;
}

void FakeClusterState::SetSecrets(const std::string& key, controllers::TeamSecrets answer) {
  answer.mark = std::make_shared<const kube::CacheMark>();
  auto [it, added] = secrets_.try_emplace(key, answer);
  if (!added) {
    it->second.mark->Set();
    it->second = std::move(answer);
  } else {
    secrets_added_->Set();
    secrets_added_ = std::make_shared<const kube::CacheMark>();
  }
}

std::shared_ptr<const controllers::RenderOutcome> FakeClusterState::Rendered(
    const std::string& key) const {
  auto it = rendered_.find(key);
  return it == rendered_.end() ? nullptr : it->second;
}

void FakeClusterState::SetRendered(const std::string& key, controllers::RenderOutcome outcome) {
  auto next = std::make_shared<const controllers::RenderOutcome>(std::move(outcome));
  auto [it, added] = rendered_.try_emplace(key, next);
  if (added) {
    rendered_added_->Set();
    rendered_added_ = std::make_shared<const kube::CacheMark>();
  } else {
    it->second->mark->Set();
    it->second = std::move(next);
  }
}

void FakeClusterState::ForgetSecrets() {
  for (const auto& [key, t] : secrets_) t.mark->Set();
  secrets_.clear();
}

kube::Object AsStored(const Action& a, int64_t rv, int64_t generation, bool ready) {
  kube::Object o = a.body;
  if (rv != 0) o = With(o, {"metadata", "resourceVersion"}, absl::StrCat(rv));
  if (generation != 0) o = With(o, {"metadata", "generation"}, generation);
  if (a.resource.plural == "deployments") {
    kube::J status = kube::J::Obj({{"observedGeneration", generation}});
    if (ready)
      status.Set("replicas", 1)
          .Set("readyReplicas", 1)
          .Set("updatedReplicas", 1)
          .Set("availableReplicas", 1);
    o = With(o, {"status"}, status);
  }
  return o;
}

}  // namespace testing_support
