#include "ops/metrics.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <mutex>
#include <sstream>

#include "absl/strings/str_split.h"
#include "api/v1alpha1/phase.h"
#include "build_info.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

namespace ops {
namespace {

using prometheus::Histogram;

// client-go's workqueue and controller-runtime's buckets.
// The phases of docs/contract.md, "Status"; each always exported, so a phase that empties reads 0.

const Histogram::BucketBoundaries kQueueBuckets{1e-8, 1e-7, 1e-6, 1e-5, 1e-4,
                                                1e-3, 1e-2, 1e-1, 1,    10};
const Histogram::BucketBoundaries kReconcileBuckets{
    0.005, 0.01, 0.025, 0.05, 0.1,  0.15, 0.2,  0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6,
    0.7,   0.8,  0.9,   1.0,  1.25, 1.5,  1.75, 2.0,  2.5, 3.0,  3.5, 4.0,  4.5, 5,
    6,     7,    8,     9,    10,   15,   20,   25,   30,  40,   50,  60};
const Histogram::BucketBoundaries kRequestBuckets{0.005, 0.025, 0.1, 0.25, 0.5, 1,
                                                  2,     4,     8,   15,   30,  60};

std::string S(absl::string_view v) { return std::string(v); }

}  // namespace

struct Metrics::Impl {
  explicit Impl(std::string c, std::string h)
      : controller(std::move(c)),
        host(std::move(h)),
        registry(std::make_shared<prometheus::Registry>()) {}
  const std::string controller, host;
  std::shared_ptr<prometheus::Registry> registry;
  prometheus::Family<prometheus::Gauge>* depth = nullptr;
  prometheus::Family<prometheus::Counter>* adds = nullptr;
  prometheus::Family<Histogram>* queue_duration = nullptr;
  prometheus::Family<Histogram>* work_duration = nullptr;
  prometheus::Family<prometheus::Counter>* retries = nullptr;
  prometheus::Family<prometheus::Gauge>* unfinished = nullptr;
  prometheus::Family<prometheus::Gauge>* longest = nullptr;
  prometheus::Family<prometheus::Counter>* reconcile_total = nullptr;
  prometheus::Counter* reconcile_errors = nullptr;
  Histogram* reconcile_time = nullptr;
  prometheus::Gauge* active_workers = nullptr;
  prometheus::Gauge* stuck_workers = nullptr;
  prometheus::Family<prometheus::Counter>* requests = nullptr;
  prometheus::Family<Histogram>* request_duration = nullptr;
  prometheus::Family<Histogram>* rate_limiter_duration = nullptr;
  prometheus::Gauge* rss = nullptr;
  prometheus::Counter* cpu = nullptr;
  double cpu_reported = 0;  // a counter only moves forward: what it has been given
  prometheus::Family<prometheus::Gauge>* leader = nullptr;
  prometheus::Family<prometheus::Gauge>* environments = nullptr;
  Histogram* ready_seconds = nullptr;
  prometheus::Family<prometheus::Counter>* secrets_fetches = nullptr;
  Histogram* secrets_fetch_seconds = nullptr;
  prometheus::Gauge* fds = nullptr;
  prometheus::Gauge* start_time = nullptr;
  std::mutex mu;          // scrapes may overlap: guards cpu_reported and what follows
  bool election = false;  // SetLeader was called: phases are the leader's to export
  bool leading = false;
};

Metrics::Metrics(std::string controller, std::string host, int max_workers)
    : impl_(std::make_unique<Impl>(std::move(controller), std::move(host))) {
  auto& r = *impl_->registry;
  using prometheus::BuildCounter;
  using prometheus::BuildGauge;
  using prometheus::BuildHistogram;
  Impl& m = *impl_;
  m.depth = &BuildGauge().Name("workqueue_depth").Help("Current depth of workqueue").Register(r);
  m.adds = &BuildCounter()
                .Name("workqueue_adds_total")
                .Help("Total number of adds handled by workqueue")
                .Register(r);
  m.queue_duration =
      &BuildHistogram()
           .Name("workqueue_queue_duration_seconds")
           .Help("How long in seconds an item stays in workqueue before being requested")
           .Register(r);
  m.work_duration = &BuildHistogram()
                         .Name("workqueue_work_duration_seconds")
                         .Help("How long in seconds processing an item from workqueue takes")
                         .Register(r);
  m.retries = &BuildCounter()
                   .Name("workqueue_retries_total")
                   .Help("Total number of retries handled by workqueue")
                   .Register(r);
  m.unfinished = &BuildGauge()
                      .Name("workqueue_unfinished_work_seconds")
                      .Help("How many seconds of work has been done that is in progress")
                      .Register(r);
  m.longest = &BuildGauge()
                   .Name("workqueue_longest_running_processor_seconds")
                   .Help("How many seconds has the longest running processor been running")
                   .Register(r);
  m.reconcile_total = &BuildCounter()
                           .Name("controller_runtime_reconcile_total")
                           .Help("Total number of reconciliations per controller")
                           .Register(r);
  for (const char* result : {"success", "error", "requeue", "requeue_after"})
    m.reconcile_total->Add({{"controller", m.controller}, {"result", result}});
  m.reconcile_errors = &BuildCounter()
                            .Name("controller_runtime_reconcile_errors_total")
                            .Help("Total number of reconciliation errors per controller")
                            .Register(r)
                            .Add({{"controller", m.controller}});
  m.reconcile_time = &BuildHistogram()
                          .Name("controller_runtime_reconcile_time_seconds")
                          .Help("Length of time per reconciliation per controller")
                          .Register(r)
                          .Add({{"controller", m.controller}}, kReconcileBuckets);
  m.active_workers = &BuildGauge()
                          .Name("controller_runtime_active_workers")
                          .Help("Number of currently used workers per controller")
                          .Register(r)
                          .Add({{"controller", m.controller}});
  // Ours, beside controller-runtime's active_workers: a worker that never
  // comes back shows here (and fails /healthz) rather than as one fewer.
  m.stuck_workers =
      &BuildGauge()
           .Name("kube_operator_stuck_workers")
           .Help("Workers in one reconcile for longer than --reconcile-timeout, per controller")
           .Register(r)
           .Add({{"controller", m.controller}});
  BuildGauge()
      .Name("controller_runtime_max_concurrent_reconciles")
      .Help("Maximum number of concurrent reconciles per controller")
      .Register(r)
      .Add({{"controller", m.controller}})
      .Set(max_workers);
  m.requests = &BuildCounter()
                    .Name("rest_client_requests_total")
                    .Help("Number of HTTP requests, partitioned by status code, method, and host.")
                    .Register(r);
  m.request_duration = &BuildHistogram()
                            .Name("rest_client_request_duration_seconds")
                            .Help("Request latency in seconds. Broken down by verb, and host.")
                            .Register(r);
  m.rate_limiter_duration =
      &BuildHistogram()
           .Name("rest_client_rate_limiter_duration_seconds")
           .Help("Client side rate limiter latency in seconds. Broken down by verb, and host.")
           .Register(r);
  m.rss = &BuildGauge()
               .Name("process_resident_memory_bytes")
               .Help("Resident memory size in bytes.")
               .Register(r)
               .Add({});
  m.cpu = &BuildCounter()
               .Name("process_cpu_seconds_total")
               .Help("Total user and system CPU time spent in seconds.")
               .Register(r)
               .Add({});
  m.fds = &BuildGauge()
               .Name("process_open_fds")
               .Help("Number of open file descriptors.")
               .Register(r)
               .Add({});
  m.start_time = &BuildGauge()
                      .Name("process_start_time_seconds")
                      .Help("Start time of the process since unix epoch in seconds.")
                      .Register(r)
                      .Add({});
  m.start_time->Set(static_cast<double>(absl::ToUnixSeconds(absl::Now())));
  m.leader = &BuildGauge()
                  .Name("leader_election_master_status")
                  .Help(
                      "Gauge of if the reporting system is master of the relevant lease, 0 "
                      "indicates backup, 1 indicates master. 'name' is the string used to "
                      "identify the lease.")
                  .Register(r);
  m.environments = &BuildGauge()
                        .Name("kube_operator_environments")
                        .Help("Environments in the operator's cache, by status.phase")
                        .Register(r);
  for (v1alpha1::Phase p : v1alpha1::kPhases)
    m.environments->Add({{"phase", std::string(v1alpha1::PhaseName(p))}});
  // Go exporters' build_info has goversion; a C++ binary has a compiler.
  BuildGauge()
      .Name("kube_operator_build_info")
      .Help(
          "A metric with a constant '1' value labeled by version, revision and compiler from "
          "which kube-operator was built.")
      .Register(r)
      .Add({{"version", kVersion}, {"revision", kRevision}, {"compiler", kCompiler}})
      .Set(1);
  m.ready_seconds =
      &BuildHistogram()
           .Name("kube_operator_environment_ready_seconds")
           .Help("Seconds from an Environment's creation until it first reported Ready")
           .Register(r)
           .Add({}, Histogram::BucketBoundaries{1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200});
  m.secrets_fetches = &BuildCounter()
                           .Name("kube_operator_secrets_fetches_total")
                           .Help(
                               "Fetches of Environments' secrets from the Catalyst web app, by "
                               "result (Synced or the SecretsSynced reason)")
                           .Register(r);
  m.secrets_fetch_seconds =
      &BuildHistogram()
           .Name("kube_operator_secrets_fetch_duration_seconds")
           .Help("Latency of fetches of Environments' secrets from the Catalyst web app")
           .Register(r)
           .Add({}, kRequestBuckets);
}

void Metrics::SetLeader(absl::string_view lease, bool leading) {
  std::lock_guard<std::mutex> l(impl_->mu);
  impl_->leader->Add({{"name", S(lease)}}).Set(leading ? 1 : 0);
  impl_->election = true;
  impl_->leading = leading;
  if (leading) return;
  // A standby from now on: the leader's figures must not linger here.
  for (v1alpha1::Phase p : v1alpha1::kPhases) {
    const std::string phase(v1alpha1::PhaseName(p));
    if (impl_->environments->Has({{"phase", phase}}))
      impl_->environments->Remove(&impl_->environments->Add({{"phase", phase}}));
  }
}

void Metrics::SetEnvironmentPhases(const std::map<std::string, int>& counts) {
  std::lock_guard<std::mutex> l(impl_->mu);
  if (impl_->election && !impl_->leading) return;
  for (v1alpha1::Phase p : v1alpha1::kPhases) {
    const std::string phase(v1alpha1::PhaseName(p));
    auto it = counts.find(phase);
    impl_->environments->Add({{"phase", phase}}).Set(it == counts.end() ? 0 : it->second);
  }
}

void Metrics::SecretsFetched(absl::string_view result, absl::Duration took) {
  impl_->secrets_fetches->Add({{"result", S(result)}}).Increment();
  impl_->secrets_fetch_seconds->Observe(absl::ToDoubleSeconds(took));
}

void Metrics::EnvironmentReady(absl::Duration since_creation) {
  impl_->ready_seconds->Observe(absl::ToDoubleSeconds(since_creation));
}

Metrics::~Metrics() = default;

void Metrics::Depth(absl::string_view q, int64_t d) {
  impl_->depth->Add({{"name", S(q)}}).Set(static_cast<double>(d));
}
void Metrics::Add(absl::string_view q) { impl_->adds->Add({{"name", S(q)}}).Increment(); }
void Metrics::QueueLatency(absl::string_view q, absl::Duration d) {
  impl_->queue_duration->Add({{"name", S(q)}}, kQueueBuckets).Observe(absl::ToDoubleSeconds(d));
}
void Metrics::WorkDuration(absl::string_view q, absl::Duration d) {
  impl_->work_duration->Add({{"name", S(q)}}, kQueueBuckets).Observe(absl::ToDoubleSeconds(d));
}
void Metrics::Retry(absl::string_view q) { impl_->retries->Add({{"name", S(q)}}).Increment(); }
void Metrics::SetUnfinishedWork(absl::string_view q, absl::Duration unfinished,
                                absl::Duration longest) {
  impl_->unfinished->Add({{"name", S(q)}}).Set(absl::ToDoubleSeconds(unfinished));
  impl_->longest->Add({{"name", S(q)}}).Set(absl::ToDoubleSeconds(longest));
}

void Metrics::ReconcileDone(absl::string_view result, absl::Duration took) {
  impl_->reconcile_total->Add({{"controller", impl_->controller}, {"result", S(result)}})
      .Increment();
  if (result == "error") impl_->reconcile_errors->Increment();
  impl_->reconcile_time->Observe(absl::ToDoubleSeconds(took));
}
void Metrics::ActiveWorkers(int n) { impl_->active_workers->Set(n); }
void Metrics::StuckWorkers(int n) { impl_->stuck_workers->Set(n); }

void Metrics::Observe(absl::string_view verb, absl::string_view method, absl::string_view code,
                      absl::Duration latency) {
  impl_->requests->Add({{"code", S(code)}, {"method", S(method)}, {"host", impl_->host}})
      .Increment();
  if (verb == "WATCH") return;
  impl_->request_duration->Add({{"verb", S(method)}, {"host", impl_->host}}, kRequestBuckets)
      .Observe(absl::ToDoubleSeconds(latency));
}

void Metrics::ObserveRateLimiterWait(absl::string_view method, absl::Duration waited) {
  impl_->rate_limiter_duration->Add({{"verb", S(method)}, {"host", impl_->host}}, kRequestBuckets)
      .Observe(absl::ToDoubleSeconds(waited));
}

std::string Metrics::Scrape() {
  if (on_scrape_) on_scrape_(*this);
  // Process figures from /proc, read at scrape time.
  std::ifstream statm("/proc/self/statm");
  long pages_total = 0, pages_resident = 0;
  if (statm >> pages_total >> pages_resident)
    impl_->rss->Set(static_cast<double>(pages_resident) *
                    static_cast<double>(sysconf(_SC_PAGESIZE)));
  std::ifstream stat("/proc/self/stat");
  std::stringstream ss;
  ss << stat.rdbuf();
  const std::string s = ss.str();
  if (size_t close = s.rfind(')'); close != std::string::npos) {
    std::vector<std::string> f = absl::StrSplit(s.substr(close + 2), ' ');
    // Fields 14 and 15 (utime, stime) are at 11 and 12 after the command.
    if (f.size() > 12) {
      const double cpu =
          (std::stod(f[11]) + std::stod(f[12])) / static_cast<double>(sysconf(_SC_CLK_TCK));
      std::lock_guard<std::mutex> l(impl_->mu);
      if (cpu > impl_->cpu_reported) impl_->cpu->Increment(cpu - impl_->cpu_reported);
      impl_->cpu_reported = std::max(cpu, impl_->cpu_reported);
    }
  }
  int fds = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d)) ++fds;
    closedir(d);
    fds -= 3;  // ".", ".." and the directory's own descriptor
  }
  impl_->fds->Set(fds);
  return prometheus::TextSerializer().Serialize(impl_->registry->Collect());
}

}  // namespace ops
