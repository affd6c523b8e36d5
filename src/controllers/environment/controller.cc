#include "controllers/environment/controller.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "api/v1alpha1/resources.h"
#include "controllers/environment/cache_transform.h"
#include "controllers/environment/event_mapping.h"
#include "controllers/environment/git_token.h"
#include "controllers/environment/naming.h"

namespace controllers {
namespace {

namespace r = kube::resources;

// A watch's role, as controller-runtime's builder names them.
enum class Role {
  kPrimary,  // For: the Environments; an event queues the Environment itself
  kOwned,    // Owns: indexed by the owner's uid (CacheView::Owned); queues the owner
  kWatches,  // Watches: read, not owned; `mapping` names the Environments to queue
};

// Which Environments a kWatches event concerns, given the Environments' cache.
using Mapping = KeysOf (*)(const informer::Store* environments);

// One informer: what it selects, and what its events mean.
struct Watch {
  std::string name;  // its cache's key in CacheView, and the reflector's name
  kube::Resource resource;
  std::string label_selector;
  std::string field_selector;
  Role role = Role::kOwned;
  Mapping mapping = nullptr;  // kWatches only
  // The owned objects are read only when an Environment is planned in full,
  // which a settled resync pass skips (pass_memo.h): kept packed, they cost
  // half the memory (docs/benchmarks.md). Environments are read every pass.
  bool packed = true;
};

// Every watch, once (docs/contract.md, "Runtime shape"). Member by member, not
// designated initializers: see NewInformer.
std::vector<Watch> Watches(const OperatorConfig& config) {
  const std::string managed = absl::StrCat(kManagedByLabel, "=", kManagedByValue);
  auto watch = [](const kube::Resource& res, std::string label, Role role, bool packed = true) {
    Watch w;
    w.name = std::string(res.plural);
    w.resource = res;
    w.label_selector = std::move(label);
    w.role = role;
    w.packed = packed;
    return w;
  };
  std::vector<Watch> out;
  out.push_back(watch(v1alpha1::kEnvironments, "", Role::kPrimary, /*packed=*/false));
  out.push_back(watch(v1alpha1::kProjects, "", Role::kWatches, /*packed=*/false));
  out.back().mapping = [](const informer::Store* envs) { return DependentsOf(envs, true); };
  // All namespaces, not only ours: a clash with someone else's must be seen.
  out.push_back(watch(r::kNamespaces, "", Role::kOwned));
  for (const kube::Resource& res : {r::kDeployments, r::kServices, r::kPersistentVolumeClaims,
                                    r::kNetworkPolicies, r::kResourceQuotas, r::kIngresses})
    out.push_back(watch(res, managed, Role::kOwned));
  // The kinds only a chart makes (helm mode; docs/contract.md, "Rendered
  // charts"): pruned and, for the workloads, waited for from these caches.
  for (const kube::Resource& res :
       {r::kConfigMaps, r::kServiceAccounts, r::kStatefulSets, r::kJobs, r::kCronJobs,
        r::kPodDisruptionBudgets, r::kHorizontalPodAutoscalers})
    out.push_back(watch(res, managed, Role::kOwned));
  // Secrets: the operator's own (postgres credentials, registry copies) by
  // its label, and the teams' pull credentials by name (RBAC cannot narrow a
  // watch by name; the selectors keep every other Secret out of the cache).
  out.push_back(watch(r::kSecrets, managed, Role::kOwned));
  if (config.registry_credentials) {
    out.push_back(watch(r::kSecrets, "", Role::kWatches));
    out.back().name = CacheView::kRegistryCredentials;
    out.back().field_selector = absl::StrCat("metadata.name=", kRegistrySecretName);
    out.back().mapping = [](const informer::Store* envs) { return DependentsOf(envs, false); };
  }
  return out;
}

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

std::unique_ptr<informer::Informer> NewInformer(kube::Client* client, const Watch& w) {
  // Member by member: GCC 12 at -O3 takes the designated-initializer form for
  // a read of an uninitialized std::function (-Wmaybe-uninitialized).
  informer::InformerOptions options;
  options.reflector.name = w.name;
  options.transform = CacheTransform(w.resource);
  options.packed = w.packed;
  return std::make_unique<informer::Informer>(
      std::make_unique<informer::ClientListerWatcher>(client, w.resource, "", w.label_selector,
                                                      w.field_selector),
      std::move(options));
}

}  // namespace

EnvironmentController::EnvironmentController(kube::Client* client, ControllerOptions options)
    : client_(client),
      options_(std::move(options)),
      queue_({.name = "environment", .metrics = options_.queue_metrics}) {
  const std::vector<Watch> watches = Watches(options_.config);
  for (const Watch& w : watches) {
    informers_.push_back(NewInformer(client_, w));
    view_.Add(w.name, w.resource, informers_.back().get(), w.role == Role::kOwned);
    if (w.role == Role::kPrimary) environments_ = informers_.back().get();
  }
  auto handler = [&](KeysOf keys) {
    handlers_.push_back(std::make_unique<Enqueue>(&queue_, std::move(keys)));
    return handlers_.back().get();
  };
  informer::EventHandler* owner = handler(OwnerOf);
  for (size_t i = 0; i < watches.size(); ++i) {
    switch (watches[i].role) {
      case Role::kPrimary:
        informers_[i]->AddHandler(handler(SelfOf));
        break;
      case Role::kOwned:
        informers_[i]->AddHandler(owner);
        break;
      case Role::kWatches:
        informers_[i]->AddHandler(handler(watches[i].mapping(&environments_->store())));
        break;
    }
  }
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
  // Helm mode: charts rendered off the workers (render_sync.h); a private
  // source's git token is asked of the web app as a pod of the environment
  // namespace would ask (git_token.h).
  renderer_ = NewChartRenderer(
      RenderOptions{.work_dir = options_.config.render_work_dir},
      [this](const std::string& ns, const std::string& id) -> absl::StatusOr<std::string> {
        if (!options_.web_app || options_.config.web_url.empty())
          return absl::FailedPreconditionError(
              "the Project has a githubInstallationId but the operator has no --web-url to ask "
              "for its git token");
        return GitTokenForNamespace(client_, options_.web_app, options_.config.web_url, ns, id);
      });
  renders_ = std::make_unique<RenderSync>(
      RenderSyncOptions{.renderer = renderer_.get(),
                        .concurrency = options_.config.render_concurrency,
                        .observer = options_.render_observer},
      &clock_, [this](const std::string& key) { queue_.Add(key); });
  view_.SetRenders(renders_.get());
  reconciler_->SetRenders(renders_.get());
}

EnvironmentController::~EnvironmentController() { Stop(absl::Seconds(10)); }

void EnvironmentController::StartInformers() {
  for (auto& inf : informers_) inf->Start();
}

bool EnvironmentController::HasSynced() const {
  for (const auto& inf : informers_)
    if (!inf->HasSynced()) return false;
  return true;
}

bool EnvironmentController::Stale() const {
  for (const auto& inf : informers_)
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
  renders_->Start();
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
  // After the workers: none of them hands it a request any more.
  if (workers_) clean = workers_->Stop(grace);
  if (renders_) renders_->Stop();
  queue_.ShutDown();
  for (auto& inf : informers_) inf->Stop();
  return clean;
}

}  // namespace controllers
