// Metrics: the operator's Prometheus metrics, named as controller-runtime and
// client-go name theirs so dashboards carry over, on prometheus-cpp. It is the
// observer the queue, the worker pool and the API client report to. Label sets
// are bounded: no per-Environment labels. kube_operator_build_info names the
// version, git revision and compiler of the binary.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "kube/client.h"
#include "workqueue/queue_metrics.h"
#include "workqueue/worker_pool.h"

namespace ops {

class Metrics final : public workqueue::QueueMetrics,
                      public workqueue::WorkerPoolObserver,
                      public kube::RequestObserver {
 public:
  // controller: the controller label; host: the API server's host:port.
  Metrics(std::string controller, std::string host, int max_workers);
  ~Metrics() override;

  // Called at each scrape, before the text is written: gauges read from state
  // (queue unfinished work, ...) are set here.
  void OnScrape(std::function<void(Metrics&)> fn) { on_scrape_ = std::move(fn); }
  void SetUnfinishedWork(absl::string_view queue, absl::Duration unfinished,
                         absl::Duration longest);

  // leader_election_master_status{name=lease}. Once called, this replica
  // takes part in a leader election: see SetEnvironmentPhases.
  void SetLeader(absl::string_view lease, bool leading);
  // kube_operator_environments{phase}: every known phase, absent ones as 0.
  // Exported by the leader only (or by the only replica, without leader
  // election): standbys cache the same Environments, and sum() over the
  // replicas would count each Environment once per replica. A standby
  // exports no series of it at all (kube-state-metrics' rule: one exporter
  // per object), so `sum by (phase) (kube_operator_environments)` is right.
  void SetEnvironmentPhases(const std::map<std::string, int>& counts);
  // kube_operator_environment_ready_seconds: create -> first Ready.
  void EnvironmentReady(absl::Duration since_creation);
  // kube_operator_secrets_fetches_total{result} and the fetch latency.
  void SecretsFetched(absl::string_view result, absl::Duration took);
  // Helm mode: a chart rendered (result: OK or the failure's status code).
  void ChartRendered(absl::string_view result, absl::Duration took);

  // The Prometheus text exposition of everything, process metrics included.
  std::string Scrape();

  // QueueMetrics
  void Depth(absl::string_view queue, int64_t depth) override;
  void Add(absl::string_view queue) override;
  void QueueLatency(absl::string_view queue, absl::Duration d) override;
  void WorkDuration(absl::string_view queue, absl::Duration d) override;
  void Retry(absl::string_view queue) override;
  // WorkerPoolObserver
  void ReconcileDone(absl::string_view result, absl::Duration took) override;
  void ActiveWorkers(int n) override;
  // kube_operator_stuck_workers{controller}: workers in one reconcile for
  // longer than --reconcile-timeout (workqueue::WorkerPoolOptions).
  void StuckWorkers(int n) override;
  // RequestObserver. Labelled as client-go's: `method` and `verb` are both
  // the HTTP method (a LIST is a GET). A watch counts in
  // rest_client_requests_total as the GET it is but, as in client-go, not in
  // the latency histogram: its duration is the stream's lifetime.
  void Observe(absl::string_view verb, absl::string_view method, absl::string_view code,
               absl::Duration latency) override;
  // rest_client_rate_limiter_duration_seconds{verb,host}: client-go's name,
  // labels and buckets (those of rest_client_request_duration_seconds);
  // verb is the HTTP method. Observed for each request while a client-side
  // limit applies (zero waits too) and for each one a 429's pause held back,
  // so an operator throttling itself shows here.
  void ObserveRateLimiterWait(absl::string_view method, absl::Duration waited) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::function<void(Metrics&)> on_scrape_;
};

}  // namespace ops
