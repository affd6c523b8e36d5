#include "controllers/environment_controller.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "controllers/cache_transform.h"
#include "controllers/naming.h"
#include "controllers/planner.h"

namespace controllers {
namespace {

namespace r = kube::resources;

// Handlers only enqueue keys: the Environment's own, or its owner's.
class Enqueue final : public informer::EventHandler {
 public:
  Enqueue(informer::WorkQueue* q, bool owner) : q_(q), owner_(owner) {}
  void OnAdd(const kube::Object& o) override { Push(o); }
  void OnUpdate(const kube::Object& old, const kube::Object& now) override {
    // A resync of the same version is the resync loop's business.
    if (old.ResourceVersion() != now.ResourceVersion()) Push(now);
  }
  void OnDelete(const kube::Object& o) override { Push(o); }

 private:
  void Push(const kube::Object& o) {
    std::string key = owner_ ? OwnerKey(o) : o.Key();
    if (!key.empty()) q_->Add(key, informer::Priority::kHigh);
  }
  informer::WorkQueue* const q_;
  const bool owner_;
};

}  // namespace

EnvironmentController::EnvironmentController(kube::Client* client, ControllerOptions options)
    : client_(client),
      options_(std::move(options)),
      queue_({.name = "environment", .metrics = options_.queue_metrics}) {
  const std::string managed = absl::StrCat(kManagedByLabel, "=", kManagedByValue);
  environments_ = Add(r::kEnvironments, "");
  // All namespaces, not only ours: a clash with someone else's must be seen.
  Add(r::kNamespaces, "");
  for (const auto& res : {r::kDeployments, r::kServices, r::kPersistentVolumeClaims,
                          r::kNetworkPolicies, r::kResourceQuotas, r::kIngresses})
    Add(res, managed);
  handlers_.push_back(std::make_unique<Enqueue>(&queue_, /*owner=*/false));
  environments_->AddHandler(handlers_.back().get());
  handlers_.push_back(std::make_unique<Enqueue>(&queue_, /*owner=*/true));
  for (auto& [res, inf] : informers_)
    if (inf.get() != environments_) inf->AddHandler(handlers_.back().get());
  reconciler_ = std::make_unique<EnvironmentReconciler>(client_, &environments_->store(), this,
                                                        options_.config, &clock_,
                                                        options_.reconcile_observer);
}

EnvironmentController::~EnvironmentController() { Stop(absl::Seconds(10)); }

informer::Informer* EnvironmentController::Add(const kube::Resource& res, std::string selector) {
  // Member by member: GCC 12 at -O3 takes the designated-initializer form for
  // a read of an uninitialized std::function (-Wmaybe-uninitialized).
  informer::InformerOptions options;
  options.reflector.name = std::string(res.plural);
  options.transform = CacheTransform(res);
  // The owned objects are read only when an Environment is planned in full,
  // which a settled resync pass skips (pass_memo.h): kept packed, they cost
  // half the memory (docs/benchmarks.md). Environments are read every pass.
  options.packed = &res != &kube::resources::kEnvironments;
  auto inf = std::make_unique<informer::Informer>(
      std::make_unique<informer::ClientListerWatcher>(client_, res, "", std::move(selector)),
      std::move(options));
  informers_.emplace_back(res, std::move(inf));
  return informers_.back().second.get();
}

std::optional<kube::Object> EnvironmentController::Get(const kube::Resource& res,
                                                       absl::string_view ns,
                                                       absl::string_view name) const {
  // Called ~15 times per Environment per resync (the reconciler's check of
  // what its last pass read): the key is built in a per-thread buffer rather
  // than a new string each time, and plurals (distinct here) are compared first.
  thread_local std::string key;
  for (const auto& [r, inf] : informers_) {
    if (r.plural != res.plural || r.group != res.group) continue;
    key.assign(ns.data(), ns.size());
    if (!ns.empty()) key += '/';
    key.append(name.data(), name.size());
    return inf->store().Get(key);
  }
  return std::nullopt;
}

void EnvironmentController::StartInformers() {
  for (auto& [res, inf] : informers_) inf->Start();
}

bool EnvironmentController::HasSynced() const {
  for (const auto& [res, inf] : informers_)
    if (!inf->HasSynced()) return false;
  return true;
}

bool EnvironmentController::Stale() const {
  for (const auto& [res, inf] : informers_)
    if (inf->Stale()) return true;
  return false;
}

void EnvironmentController::StartWorkers() {
  workers_ = std::make_unique<informer::WorkerPool>(
      &queue_, options_.workers,
      [this](const std::string& key) { return reconciler_->Reconcile(key); },
      options_.worker_observer);
  workers_->Start();
  resync_ = std::thread([this] { ResyncLoop(); });
}

void EnvironmentController::ResyncLoop() {
  // PRODUCT.md "Runtime shape": every Environment again every resync period,
  // from the cache, behind live events (low priority).
  while (!stop_.WaitFor(options_.resync_period))
    for (const auto& key : environments_->store().Keys()) queue_.Add(key, informer::Priority::kLow);
}

std::map<std::string, int> EnvironmentController::CountByPhase() const {
  std::map<std::string, int> counts;
  for (const kube::Object& env : environments_->store().List()) {
    absl::string_view phase = env.Str({"status", "phase"});
    ++counts[phase.empty() ? "Pending" : std::string(phase)];
  }
  return counts;
}

bool EnvironmentController::Stop(absl::Duration grace) {
  stop_.Cancel();
  if (resync_.joinable()) resync_.join();
  bool clean = true;
  if (workers_) clean = workers_->Stop(grace);
  queue_.ShutDown();
  for (auto& [res, inf] : informers_) inf->Stop();
  return clean;
}

}  // namespace controllers
