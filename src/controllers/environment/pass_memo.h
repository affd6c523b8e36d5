// PassMemo: what the last pass over each Environment read, when that pass
// found nothing to do, so that a resync of an Environment nothing has touched
// since costs a look at a flag per object instead of a plan (docs/benchmarks.md:
// at 10,000 Environments re-planning all of them every 5 s is a third of a
// core; looking each object up again, 5 %).
//
// Sound because the planner is a pure function of the Environment, the cached
// objects it reads, the configuration and the time. If the Environment and
// every object the pass read are still the ones cached, the planner would
// decide the same again; the cache marks every document it replaces or drops
// (kube::Object::Superseded), so "still cached" is a flag, exact and race-free:
// a document replaced while the pass ran is marked before anyone looks. Time
// only matters while something is pending (the failure deadline, a namespace
// still terminating): such a pass asks for a requeue and is not remembered,
// and neither is one that read pods (not cached: the reconciler knows), so only
// a settled Ready or Failed pass is (see Settled).
// Level-triggered still: a changed, deleted or recreated owned object is
// another document (or gone) in the cache, and the next pass plans in full.
#pragma once

#include <algorithm>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "controllers/environment/cluster_state.h"
#include "controllers/environment/planner.h"
#include "kube/object.h"
#include "kube/resource.h"

namespace controllers {

// The same Environment: the same document, or the same resourceVersion (a
// relist or a re-delivered event hands out a new document of it).
inline bool SameVersion(const kube::Object& a, const kube::Object& b) {
  if (&a.json() == &b.json()) return true;
  const absl::string_view rv = a.ResourceVersion();
  return !rv.empty() && rv == b.ResourceVersion();
}

// A pass whose outcome holds until its inputs change: nothing to do, nothing
// pending, a final phase.
inline bool Settled(const Plan& plan) {
  return plan.actions.empty() && !plan.status_patch && !plan.event && !plan.requeue_after &&
         !plan.render && v1alpha1::IsFinal(plan.phase);
}

// What a cache sets on an object it replaced or dropped (Object::Mark).
using Mark = std::shared_ptr<const kube::CacheMark>;

// A ClusterState that notes every object read through it.
class RecordingState final : public ClusterState {
 public:
  explicit RecordingState(const ClusterState& inner) : inner_(inner) {}

  std::optional<kube::Object> Get(const kube::Resource& r, absl::string_view ns,
                                  absl::string_view name) const override {
    // Taken before the lookup: an object added after it sets this mark.
    Mark added = inner_.AddMark(r);
    return Recorded(inner_.Get(r, ns, name), std::move(added));
  }
  std::optional<kube::Object> RegistryCredentials(absl::string_view ns) const override {
    Mark added = inner_.RegistryCredentialsAddMark();
    return Recorded(inner_.RegistryCredentials(ns), std::move(added));
  }
  Mark RegistryCredentialsAddMark() const override { return inner_.RegistryCredentialsAddMark(); }
  // Objects added later under this uid are the operator's own writes, which
  // a settled pass never has pending: the marks of those listed suffice.
  std::vector<kube::Object> Owned(const kube::Resource& r, absl::string_view uid) const override {
    std::vector<kube::Object> out = inner_.Owned(r, uid);
    for (const kube::Object& o : out) Record(o.Mark());
    return out;
  }
  Mark AddMark(const kube::Resource& r) const override { return inner_.AddMark(r); }
  std::optional<TeamSecrets> Secrets(const std::string& key) const override {
    Mark added = inner_.SecretsAddMark();
    std::optional<TeamSecrets> t = inner_.Secrets(key);
    if (t)
      Record(t->mark);
    else if (added)
      Record(std::move(added));
    return t;
  }
  Mark SecretsAddMark() const override { return inner_.SecretsAddMark(); }
  std::shared_ptr<const RenderOutcome> Rendered(const std::string& key) const override {
    Mark added = inner_.RenderedAddMark();
    std::shared_ptr<const RenderOutcome> o = inner_.Rendered(key);
    if (o)
      Record(o->mark);
    else if (added)
      Record(std::move(added));
    return o;
  }
  Mark RenderedAddMark() const override { return inner_.RenderedAddMark(); }

  // Every read found its object and was recorded.
  bool complete() const { return complete_; }
  std::vector<Mark> TakeReads() { return std::move(reads_); }

 private:
  // What a read found, or the mark that ends its absence.
  std::optional<kube::Object> Recorded(std::optional<kube::Object> o, Mark added) const {
    if (o)
      Record(o->Mark());
    else if (added)
      Record(std::move(added));  // the absence holds until the cache adds something
    else
      complete_ = false;  // an absence it cannot watch
    return o;
  }
  // The mark, not the object: a packed cache hands out parsed copies that
  // need not outlive the pass. A repeat is kept once.
  void Record(Mark mark) const {
    if (std::find(reads_.begin(), reads_.end(), mark) == reads_.end())
      reads_.push_back(std::move(mark));
  }

  const ClusterState& inner_;
  mutable std::vector<Mark> reads_;
  mutable bool complete_ = true;
};

// Thread-safe: workers reconcile different keys concurrently. The lock covers
// the map only; the cache lookups run outside it.
class PassMemo {
 public:
  // True if the remembered pass of `key` saw this Environment and every object
  // it read is still the cached one. A remembered pass that no longer holds
  // is dropped.
  bool Unchanged(const std::string& key, const kube::Object& env, absl::Time now) {
    std::shared_ptr<const Entry> e;
    {
      std::lock_guard l(mu_);
      auto it = entries_.find(key);
      if (it == entries_.end()) return false;
      e = it->second;
    }
    const bool same =
        now < e->not_after && SameVersion(e->env, env) &&
        std::none_of(e->reads.begin(), e->reads.end(), [](const Mark& m) { return m->IsSet(); });
    if (!same) {
      std::lock_guard l(mu_);
      if (auto it = entries_.find(key); it != entries_.end() && it->second == e) entries_.erase(it);
    }
    return same;
  }

  // not_after: plan again from then on even if nothing changed (a pass whose
  // outcome holds for a while only, such as an orphan's, see reconciler.cc).
  void Remember(const std::string& key, kube::Object env, std::vector<Mark> reads,
                absl::Time not_after = absl::InfiniteFuture()) {
    auto e = std::make_shared<const Entry>(Entry{std::move(env), std::move(reads), not_after});
    std::lock_guard l(mu_);
    entries_.insert_or_assign(key, std::move(e));
  }

  void Forget(const std::string& key) {
    std::lock_guard l(mu_);
    entries_.erase(key);
  }

  size_t size() const {
    std::lock_guard l(mu_);
    return entries_.size();
  }

 private:
  struct Entry {
    kube::Object env;
    std::vector<Mark> reads;
    absl::Time not_after;
  };
  mutable std::mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<const Entry>> entries_;
};

}  // namespace controllers
