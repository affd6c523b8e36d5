#include "ops/metrics.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <mutex>
#include <span>
#include <sstream>
#include <type_traits>

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

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

// client-go's workqueue and controller-runtime's buckets.
const Histogram::BucketBoundaries kQueueBuckets{1e-8, 1e-7, 1e-6, 1e-5, 1e-4,
                                                1e-3, 1e-2, 1e-1, 1,    10};
const Histogram::BucketBoundaries kReconcileBuckets{
    0.005, 0.01, 0.025, 0.05, 0.1,  0.15, 0.2,  0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6,
    0.7,   0.8,  0.9,   1.0,  1.25, 1.5,  1.75, 2.0,  2.5, 3.0,  3.5, 4.0,  4.5, 5,
    6,     7,    8,     9,    10,   15,   20,   25,   30,  40,   50,  60};
const Histogram::BucketBoundaries kRequestBuckets{0.005, 0.025, 0.1, 0.25, 0.5, 1,
                                                  2,     4,     8,   15,   30,  60};
const Histogram::BucketBoundaries kReadyBuckets{1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200};

std::string S(absl::string_view v) { return std::string(v); }

// What the observer methods write to. A family whose series are named at each
// call (a queue, a status code) is kept whole; a family of one series (this
// controller's, or the process's) keeps that series.
struct Instruments {
  Family<Gauge>* depth = nullptr;
  Family<Gauge>* unfinished = nullptr;
  Family<Gauge>* longest = nullptr;
  Family<Gauge>* leader = nullptr;
  Family<Gauge>* environments = nullptr;
  Family<Gauge>* build_info = nullptr;
  Family<Counter>* adds = nullptr;
  Family<Counter>* retries = nullptr;
  Family<Counter>* reconcile_total = nullptr;
  Family<Counter>* requests = nullptr;
  Family<Counter>* secrets_fetches = nullptr;
  Family<Counter>* chart_renders = nullptr;
  Family<Histogram>* queue_duration = nullptr;
  Family<Histogram>* work_duration = nullptr;
  Family<Histogram>* request_duration = nullptr;
  Family<Histogram>* rate_limiter_duration = nullptr;
  Gauge* active_workers = nullptr;
  Gauge* stuck_workers = nullptr;
  Gauge* max_concurrent = nullptr;
  Gauge* rss = nullptr;
  Gauge* fds = nullptr;
  Gauge* start_time = nullptr;
  Counter* reconcile_errors = nullptr;
  Counter* cpu = nullptr;
  Histogram* reconcile_time = nullptr;
  Histogram* ready_seconds = nullptr;
  Histogram* secrets_fetch_seconds = nullptr;
  Histogram* chart_render_seconds = nullptr;
};
using I = Instruments;

// A family's one series, made at registration so that it reads 0 rather than
// being absent: labelled with the controller, or unlabelled (the process's).
enum class One { kController, kProcess };

// A family: its name and help as client-go and controller-runtime write them
// (the chart's alerts, dashboard and promtool tests name them), and either the
// family (series named per call) or its one series with that series' buckets.
template <typename T>
struct Row {
  const char* name;
  const char* help;
  Family<T>* I::*family = nullptr;
  T* I::*series = nullptr;
  One one = One::kProcess;
  const Histogram::BucketBoundaries* buckets = nullptr;
};

// In registration order, which is /metrics' order within a type.
constexpr Row<Gauge> kGauges[] = {
    {"workqueue_depth", "Current depth of workqueue", &I::depth},
    {"workqueue_unfinished_work_seconds",
     "How many seconds of work has been done that is in progress", &I::unfinished},
    {"workqueue_longest_running_processor_seconds",
     "How many seconds has the longest running processor been running", &I::longest},
    {"controller_runtime_active_workers", "Number of currently used workers per controller",
     nullptr, &I::active_workers, One::kController},
    // Ours, beside controller-runtime's active_workers: a worker that never
    // comes back shows here (and fails /healthz) rather than as one fewer.
    {"kube_operator_stuck_workers",
     "Workers in one reconcile for longer than --reconcile-timeout, per controller", nullptr,
     &I::stuck_workers, One::kController},
    {"controller_runtime_max_concurrent_reconciles",
     "Maximum number of concurrent reconciles per controller", nullptr, &I::max_concurrent,
     One::kController},
    {"process_resident_memory_bytes", "Resident memory size in bytes.", nullptr, &I::rss},
    {"process_open_fds", "Number of open file descriptors.", nullptr, &I::fds},
    {"process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
     nullptr, &I::start_time},
    {"leader_election_master_status",
     "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 "
     "indicates master. 'name' is the string used to identify the lease.",
     &I::leader},
    {"kube_operator_environments", "Environments in the operator's cache, by status.phase",
     &I::environments},
    // Go exporters' build_info has goversion; a C++ binary has a compiler.
    {"kube_operator_build_info",
     "A metric with a constant '1' value labeled by version, revision and compiler from which "
     "kube-operator was built.",
     &I::build_info},
};
constexpr Row<Counter> kCounters[] = {
    {"workqueue_adds_total", "Total number of adds handled by workqueue", &I::adds},
    {"workqueue_retries_total", "Total number of retries handled by workqueue", &I::retries},
    {"controller_runtime_reconcile_total", "Total number of reconciliations per controller",
     &I::reconcile_total},
    {"controller_runtime_reconcile_errors_total",
     "Total number of reconciliation errors per controller", nullptr, &I::reconcile_errors,
     One::kController},
    {"rest_client_requests_total",
     "Number of HTTP requests, partitioned by status code, method, and host.", &I::requests},
    {"process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", nullptr,
     &I::cpu},
    {"kube_operator_secrets_fetches_total",
     "Fetches of Environments' secrets from the Catalyst web app, by result (Synced or the "
     "SecretsSynced reason)",
     &I::secrets_fetches},
    {"kube_operator_chart_renders_total",
     "Helm chart renders (helm mode: clone and helm template), by result (OK or the failure's "
     "status code)",
     &I::chart_renders},
};
constexpr Row<Histogram> kHistograms[] = {
    {"workqueue_queue_duration_seconds",
     "How long in seconds an item stays in workqueue before being requested", &I::queue_duration},
    {"workqueue_work_duration_seconds",
     "How long in seconds processing an item from workqueue takes", &I::work_duration},
    {"controller_runtime_reconcile_time_seconds",
     "Length of time per reconciliation per controller", nullptr, &I::reconcile_time,
     One::kController, &kReconcileBuckets},
    {"rest_client_request_duration_seconds",
     "Request latency in seconds. Broken down by verb, and host.", &I::request_duration},
    {"rest_client_rate_limiter_duration_seconds",
     "Client side rate limiter latency in seconds. Broken down by verb, and host.",
     &I::rate_limiter_duration},
    {"kube_operator_environment_ready_seconds",
     "Seconds from an Environment's creation until it first reported Ready", nullptr,
     &I::ready_seconds, One::kProcess, &kReadyBuckets},
    {"kube_operator_secrets_fetch_duration_seconds",
     "Latency of fetches of Environments' secrets from the Catalyst web app", nullptr,
     &I::secrets_fetch_seconds, One::kProcess, &kRequestBuckets},
    {"kube_operator_chart_render_duration_seconds",
     "How long a Helm chart's clone and render took (helm mode)", nullptr, &I::chart_render_seconds,
     One::kProcess, &kRequestBuckets},
};

// build: prometheus::BuildGauge, BuildCounter or BuildHistogram.
template <typename T, typename Builder>
void Register(prometheus::Registry& r, Builder build, std::span<const Row<T>> rows,
              const std::string& controller, Instruments& m) {
  for (const Row<T>& row : rows) {
    Family<T>& family = build().Name(row.name).Help(row.help).Register(r);
    if (row.family) {
      m.*row.family = &family;
      continue;
    }
    prometheus::Labels labels;
    if (row.one == One::kController) labels = {{"controller", controller}};
    if constexpr (std::is_same_v<T, Histogram>)
      m.*row.series = &family.Add(labels, *row.buckets);
    else
      m.*row.series = &family.Add(labels);
  }
}

}  // namespace

struct Metrics::Impl : Instruments {
  explicit Impl(std::string c, std::string h)
      : controller(std::move(c)),
        host(std::move(h)),
        registry(std::make_shared<prometheus::Registry>()) {}
  const std::string controller, host;
  std::shared_ptr<prometheus::Registry> registry;
  double cpu_reported = 0;  // a counter only moves forward: what it has been given
  std::mutex mu;            // scrapes may overlap: guards cpu_reported and what follows
  bool election = false;    // SetLeader was called: phases are the leader's to export
  bool leading = false;
};

Metrics::Metrics(std::string controller, std::string host, int max_workers)
    : impl_(std::make_unique<Impl>(std::move(controller), std::move(host))) {
  Impl& m = *impl_;
  auto& r = *m.registry;
  Register<Gauge>(r, prometheus::BuildGauge, kGauges, m.controller, m);
  Register<Counter>(r, prometheus::BuildCounter, kCounters, m.controller, m);
  Register<Histogram>(r, prometheus::BuildHistogram, kHistograms, m.controller, m);
  // The series that exist from the start, so that each reads 0 rather than absent.
  for (const char* result : {"success", "error", "requeue", "requeue_after"})
    m.reconcile_total->Add({{"controller", m.controller}, {"result", result}});
  // The phases of docs/contract.md, "Status": a phase that empties reads 0.
  for (v1alpha1::Phase p : v1alpha1::kPhases)
    m.environments->Add({{"phase", std::string(v1alpha1::PhaseName(p))}});
  m.max_concurrent->Set(max_workers);
  m.start_time->Set(static_cast<double>(absl::ToUnixSeconds(absl::Now())));
  m.build_info->Add({{"version", kVersion}, {"revision", kRevision}, {"compiler", kCompiler}})
      .Set(1);
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

void Metrics::ChartRendered(absl::string_view result, absl::Duration took) {
  impl_->chart_renders->Add({{"result", S(result)}}).Increment();
  impl_->chart_render_seconds->Observe(absl::ToDoubleSeconds(took));
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
