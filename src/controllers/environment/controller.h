// EnvironmentController: docs/contract.md, "Runtime shape". Informers stream
// Environments, Projects, Namespaces, registry credentials and every kind the
// operator owns (filtered by its managed-by label) into caches — one per
// entry of the table of watches in controller.cc; their events feed a rate-limited,
// de-duplicating work queue consumed by worker threads; a resync re-queues
// every Environment at low priority every few seconds (the original polling
// semantics) without calling the API server.
#pragma once

#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "controllers/environment/cache_view.h"
#include "controllers/environment/config.h"
#include "controllers/environment/reconciler.h"
#include "controllers/environment/render_sync.h"
#include "controllers/environment/secrets_sync.h"
#include "informer/informer.h"
#include "kube/client.h"
#include "workqueue/work_queue.h"
#include "workqueue/worker_pool.h"

namespace controllers {

struct ControllerOptions {
  int workers = 4;
  absl::Duration resync_period = absl::Seconds(5);
  OperatorConfig config;
  workqueue::QueueMetrics* queue_metrics = nullptr;
  workqueue::WorkerPoolObserver* worker_observer = nullptr;
  // A reconcile running longer is stuck (workqueue::WorkerPoolOptions); 0: never.
  absl::Duration reconcile_timeout = absl::ZeroDuration();
  ReconcileObserver* reconcile_observer = nullptr;
  // The Catalyst web app (config.web_url), with the operator's token: the
  // team's secrets are fetched through it (secrets_sync.h). Null: not fetched.
  kube::Transport* web_app = nullptr;
  absl::Duration secrets_refresh = absl::Minutes(5);
  SecretsObserver* secrets_observer = nullptr;
  RenderObserver* render_observer = nullptr;  // helm mode's renders
};

class EnvironmentController {
 public:
  EnvironmentController(kube::Client* client, ControllerOptions options);
  ~EnvironmentController();

  // Starts the informers (caches stay warm on standbys too).
  void StartInformers();
  bool HasSynced() const;
  bool Stale() const;  // any informer stale
  // Starts reconciling: the resync loop and the workers.
  void StartWorkers();
  // Stops taking work and waits up to grace for in-flight reconciles.
  bool Stop(absl::Duration grace);

  const workqueue::WorkQueue& queue() const { return queue_; }
  // Cached Environments by status.phase (no phase yet counts as Pending).
  std::map<std::string, int> CountByPhase() const;

  // What the planner reads: the informers' caches.
  const ClusterState& state() const { return view_; }

 private:
  void ResyncLoop();

  kube::Client* const client_;
  const ControllerOptions options_;
  util::RealClock clock_;
  workqueue::WorkQueue queue_;
  // One per watch of controller.cc's table, in its order; CacheView knows
  // them by name.
  std::vector<std::unique_ptr<informer::Informer>> informers_;
  informer::Informer* environments_ = nullptr;
  CacheView view_;
  std::vector<std::unique_ptr<informer::EventHandler>> handlers_;
  std::unique_ptr<EnvironmentReconciler> reconciler_;
  std::unique_ptr<SecretsSync> secrets_;
  std::unique_ptr<ChartRenderer> renderer_;
  std::unique_ptr<RenderSync> renders_;
  std::unique_ptr<workqueue::WorkerPool> workers_;
  util::Cancellation stop_;
  std::thread resync_;
};

}  // namespace controllers
