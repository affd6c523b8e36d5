#include "controllers/environment/controller.h"

#include <algorithm>
#include <functional>
#include <string>

#include "absl/strings/str_cat.h"
#include "api/v1alpha1/resources.h"
#include "controllers/environment/cache_transform.h"
#include "controllers/environment/naming.h"
#include "controllers/environment/planner.h"
#include "controllers/project/dependents.h"

namespace controllers {
namespace {

namespace r = kube::resources;

// The keys of the Environments an event concerns.
using KeysOf = std::function<void(const kube::Object&, std::vector<std::string>&)>;

// Handlers only enqueue keys, at high priority (live events go before resyncs).
class Enqueue final : public informer::EventHandler {
 public:
  Enqueue(workqueue::WorkQueue* q, KeysOf keys) : q_(q), keys_(std::move(keys)) {}
  void OnAdd(const kube::Object& o) override { Push(o); }
  void OnUpdate(const kube::Object& old, const kube::Object& now) override {
    // A resync of the same version is the resync loop's business.
    if (old.ResourceVersion() != now.ResourceVersion()) Push(now);
  }
  void OnDelete(const kube::Object& o) override { Push(o); }

 private:
  void Push(const kube::Object& o) {
    std::vector<std::string> keys;
    keys_(o, keys);
    for (const std::string& key : keys)
      if (!key.empty()) q_->Add(key, workqueue::Priority::kHigh);
  }
  workqueue::WorkQueue* const q_;
  const KeysOf keys_;
};

// A managed object belongs to the Environment its annotation names.
void OwnerOf(const kube::Object& o, std::vector<std::string>& out) { out.push_back(OwnerKey(o)); }

// The Environments that read o without owning it (controllers/project);
// a copy of ours belongs to its owner.
KeysOf DependentsOf(const informer::Store* environments, bool by_name) {
  return [environments, by_name](const kube::Object& o, std::vector<std::string>& out) {
    if (o.Label(kManagedByLabel) == kManagedByValue) return OwnerOf(o, out);
    out = EnvironmentsReading(*environments, o, by_name);
  };
}

}  // namespace

EnvironmentController::EnvironmentController(kube::Client* client, ControllerOptions options)
    : client_(client),
      options_(std::move(options)),
      queue_({.name = "environment", .metrics = options_.queue_metrics}) {
  const std::string managed = absl::StrCat(kManagedByLabel, "=", kManagedByValue);
  environments_ = Add(v1alpha1::kEnvironments, "");
  auto* projects = Add(v1alpha1::kProjects, "");
  // All namespaces, not only ours: a clash with someone else's must be seen.
  Add(r::kNamespaces, "");
  // By address: an informer is known by its resource constant (Find).
  for (const kube::Resource* res : {&r::kDeployments, &r::kServices, &r::kPersistentVolumeClaims,
                                    &r::kNetworkPolicies, &r::kResourceQuotas, &r::kIngresses})
    Add(*res, managed);
  // Secrets: the operator's own (postgres credentials, registry copies) by
  // its label, and the teams' pull credentials by name (RBAC cannot narrow a
  // watch by name; the selectors keep every other Secret out of the cache).
  Add(r::kSecrets, managed);
  auto* secrets =
      options_.config.registry_credentials
          ? Add(kRegistrySourceSecrets, "", absl::StrCat("metadata.name=", kRegistrySecretName))
          : nullptr;
  // The kinds an Environment owns are indexed by its uid (CacheView::Owned).
  for (auto& [res, inf] : informers_)
    view_.Add(*res, inf.get(),
              inf.get() != environments_ && inf.get() != projects && inf.get() != secrets);
  auto handler = [&](KeysOf keys) {
    handlers_.push_back(std::make_unique<Enqueue>(&queue_, std::move(keys)));
    return handlers_.back().get();
  };
  environments_->AddHandler(handler(
      [](const kube::Object& o, std::vector<std::string>& out) { out.push_back(o.Key()); }));
  projects->AddHandler(handler(DependentsOf(&environments_->store(), /*by_name=*/true)));
  if (secrets)
    secrets->AddHandler(handler(DependentsOf(&environments_->store(), /*by_name=*/false)));
  informer::EventHandler* owner = handler(OwnerOf);
  for (auto& [res, inf] : informers_)
    if (inf.get() != environments_ && inf.get() != projects && inf.get() != secrets)
      inf->AddHandler(owner);
  reconciler_ = std::make_unique<EnvironmentReconciler>(client_, &environments_->store(), &view_,
                                                        options_.config, &clock_,
                                                        options_.reconcile_observer, &view_);
  if (options_.web_app && !options_.config.web_url.empty()) {
    secrets_ =
        std::make_unique<SecretsSync>(&environments_->store(),
                                      SecretsSyncOptions{.web_url = options_.config.web_url,
                                                         .web = options_.web_app,
                                                         .refresh = options_.secrets_refresh,
                                                         .observer = options_.secrets_observer},
                                      &clock_, [this](const std::string& key) { queue_.Add(key); });
    view_.SetSecrets(secrets_.get());
  }
}

EnvironmentController::~EnvironmentController() { Stop(absl::Seconds(10)); }

informer::Informer* EnvironmentController::Add(const kube::Resource& res, std::string selector,
                                               std::string field_selector) {
  // Member by member: GCC 12 at -O3 takes the designated-initializer form for
  // a read of an uninitialized std::function (-Wmaybe-uninitialized).
  informer::InformerOptions options;
  options.reflector.name = std::string(res.plural);
  if (&res == &kRegistrySourceSecrets) options.reflector.name = "registry-credentials";
  options.transform = CacheTransform(res);
  // The owned objects are read only when an Environment is planned in full,
  // which a settled resync pass skips (pass_memo.h): kept packed, they cost
  // half the memory (docs/benchmarks.md). Environments are read every pass.
  options.packed = &res != &v1alpha1::kEnvironments && &res != &v1alpha1::kProjects;
  auto inf = std::make_unique<informer::Informer>(
      std::make_unique<informer::ClientListerWatcher>(client_, res, "", std::move(selector),
                                                      std::move(field_selector)),
      std::move(options));
  informers_.emplace_back(&res, std::move(inf));
  return informers_.back().second.get();
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
  workers_ = std::make_unique<workqueue::WorkerPool>(
      &queue_, options_.workers,
      [this](const std::string& key) { return reconciler_->Reconcile(key); },
      options_.worker_observer,
      workqueue::WorkerPoolOptions{.reconcile_timeout = options_.reconcile_timeout});
  workers_->Start();
  if (secrets_) secrets_->Start();
  resync_ = std::thread([this] { ResyncLoop(); });
}

void EnvironmentController::ResyncLoop() {
  // docs/contract.md, "Runtime shape": every Environment again every resync period,
  // from the cache, behind live events (low priority).
  while (!stop_.WaitFor(options_.resync_period))
    for (const auto& key : environments_->store().Keys())
      queue_.Add(key, workqueue::Priority::kLow);
}

std::map<std::string, int> EnvironmentController::CountByPhase() const {
  std::map<std::string, int> counts;
  for (const kube::Object& env : environments_->store().List()) {
    // No phase yet (or one not of ours) counts as Pending, as the web app shows it.
    const auto phase = v1alpha1::ParsePhase(env.Str({"status", "phase"}));
    ++counts[std::string(v1alpha1::PhaseName(phase.value_or(v1alpha1::Phase::kPending)))];
  }
  return counts;
}

bool EnvironmentController::Stop(absl::Duration grace) {
  stop_.Cancel();
  if (resync_.joinable()) resync_.join();
  if (secrets_) secrets_->Stop();
  bool clean = true;
  if (workers_) clean = workers_->Stop(grace);
  queue_.ShutDown();
  for (auto& [res, inf] : informers_) inf->Stop();
  return clean;
}

}  // namespace controllers
