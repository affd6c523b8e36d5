#include <fstream>
#include <iterator>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "build_info.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ops/metrics.h"

namespace ops {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsTest, ControllerRuntimeAndClientGoNames) {
  Metrics m("environment", "127.0.0.1:6443", 4);
  m.Add("environment");
  m.Depth("environment", 3);
  m.QueueLatency("environment", absl::Milliseconds(2));
  m.WorkDuration("environment", absl::Milliseconds(5));
  m.Retry("environment");
  m.ReconcileDone("success", absl::Milliseconds(7));
  m.ReconcileDone("error", absl::Milliseconds(7));
  m.ActiveWorkers(2);
  m.StuckWorkers(1);
  m.Observe("GET", "GET", "200", absl::Milliseconds(3));
  bool scraped = false;
  m.OnScrape([&](Metrics& self) {
    scraped = true;
    self.SetUnfinishedWork("environment", absl::Seconds(2), absl::Seconds(1));
    self.SetEnvironmentPhases({{"Ready", 5}, {"Failed", 1}});
  });
  m.SetLeader("kube-operator-leader", true);
  m.EnvironmentReady(absl::Seconds(3));
  const std::string text = m.Scrape();
  EXPECT_TRUE(scraped);
  for (const char* want :
       {"workqueue_adds_total{name=\"environment\"} 1",
        "workqueue_depth{name=\"environment\"} 3",
        "workqueue_retries_total{name=\"environment\"} 1",
        "workqueue_queue_duration_seconds_count{name=\"environment\"} 1",
        "workqueue_work_duration_seconds_count{name=\"environment\"} 1",
        "workqueue_unfinished_work_seconds{name=\"environment\"} 2",
        "workqueue_longest_running_processor_seconds{name=\"environment\"} 1",
        "controller_runtime_reconcile_total{controller=\"environment\",result=\"success\"} 1",
        "controller_runtime_reconcile_total{controller=\"environment\",result=\"error\"} 1",
        "controller_runtime_reconcile_errors_total{controller=\"environment\"} 1",
        "controller_runtime_reconcile_time_seconds_count{controller=\"environment\"} 2",
        "controller_runtime_active_workers{controller=\"environment\"} 2",
        "controller_runtime_max_concurrent_reconciles{controller=\"environment\"} 4",
        "kube_operator_stuck_workers{controller=\"environment\"} 1",
        "rest_client_requests_total{code=\"200\",host=\"127.0.0.1:6443\",method=\"GET\"} 1",
        "rest_client_request_duration_seconds_count{host=\"127.0.0.1:6443\",verb=\"GET\"} 1",
        "process_resident_memory_bytes ",
        "process_cpu_seconds_total ",
        "process_open_fds ",
        "process_start_time_seconds ",
        "# TYPE process_cpu_seconds_total counter",
        "leader_election_master_status{name=\"kube-operator-leader\"} 1",
        "kube_operator_environments{phase=\"Ready\"} 5",
        "kube_operator_environments{phase=\"Failed\"} 1",
        "kube_operator_environments{phase=\"Pending\"} 0",
        "kube_operator_environment_ready_seconds_bucket{le=\"5\"} 1",
        "kube_operator_environment_ready_seconds_bucket{le=\"2\"} 0"}) {
    EXPECT_THAT(text, HasSubstr(want));
  }
}

// client-go's labels: method and verb are the HTTP method; a watch is a GET
// whose lifetime stays out of the latency histogram.
TEST(MetricsTest, VerbIsTheHttpMethod) {
  Metrics m("environment", "h:6443", 1);
  m.Observe("GET", "GET", "200", absl::Milliseconds(3));
  m.Observe("LIST", "GET", "200", absl::Milliseconds(3));
  m.Observe("WATCH", "GET", "200", absl::Minutes(7));
  for (const char* method : {"POST", "PUT", "PATCH", "DELETE"})
    m.Observe(method, method, "200", absl::Milliseconds(3));
  m.Observe("PATCH", "PATCH", "<error>", absl::Milliseconds(3));
  const std::string text = m.Scrape();
  for (const char* want :
       {"rest_client_requests_total{code=\"200\",host=\"h:6443\",method=\"GET\"} 3",
        "rest_client_requests_total{code=\"<error>\",host=\"h:6443\",method=\"PATCH\"} 1",
        "rest_client_request_duration_seconds_count{host=\"h:6443\",verb=\"GET\"} 2",
        "rest_client_request_duration_seconds_sum{host=\"h:6443\",verb=\"GET\"} 0.006",
        "rest_client_request_duration_seconds_count{host=\"h:6443\",verb=\"POST\"} 1",
        "rest_client_request_duration_seconds_count{host=\"h:6443\",verb=\"PUT\"} 1",
        "rest_client_request_duration_seconds_count{host=\"h:6443\",verb=\"PATCH\"} 2",
        "rest_client_request_duration_seconds_count{host=\"h:6443\",verb=\"DELETE\"} 1"})
    EXPECT_THAT(text, HasSubstr(want));
  EXPECT_THAT(text, Not(HasSubstr("verb=\"LIST\"")));
  EXPECT_THAT(text, Not(HasSubstr("verb=\"WATCH\"")));
}

TEST(MetricsTest, EnvironmentPhasesFromTheLeaderOnly) {
  const std::string ready = "kube_operator_environments{phase=\"Ready\"} 2";
  const std::string any = "kube_operator_environments{";
  auto counts = [](Metrics& m) { m.SetEnvironmentPhases({{"Ready", 2}}); };

  Metrics single("environment", "h", 1);  // no leader election: the only replica
  single.OnScrape(counts);
  EXPECT_THAT(single.Scrape(), HasSubstr(ready));

  Metrics m("environment", "h", 1);
  m.OnScrape(counts);
  m.SetLeader("lease", false);  // a standby from the start
  EXPECT_THAT(m.Scrape(), Not(HasSubstr(any)));
  m.SetLeader("lease", true);
  std::string text = m.Scrape();
  EXPECT_THAT(text, HasSubstr(ready));
  EXPECT_THAT(text, HasSubstr("kube_operator_environments{phase=\"Failed\"} 0"));
  m.SetLeader("lease", false);
  text = m.Scrape();
  EXPECT_THAT(text, Not(HasSubstr(any)));
  EXPECT_THAT(text, HasSubstr("leader_election_master_status{name=\"lease\"} 0"));
}

// Every family the chart's alerts, dashboard and promtool tests may name, with
// its type and help text as client-go and controller-runtime write them, and a
// histogram's number of buckets (+Inf included).
struct Family {
  const char* name;
  const char* type;
  const char* help;
  int buckets = 0;
};
constexpr Family kFamilies[] = {
    {"workqueue_depth", "gauge", "Current depth of workqueue"},
    {"workqueue_adds_total", "counter", "Total number of adds handled by workqueue"},
    {"workqueue_queue_duration_seconds", "histogram",
     "How long in seconds an item stays in workqueue before being requested", 11},
    {"workqueue_work_duration_seconds", "histogram",
     "How long in seconds processing an item from workqueue takes", 11},
    {"workqueue_retries_total", "counter", "Total number of retries handled by workqueue"},
    {"workqueue_unfinished_work_seconds", "gauge",
     "How many seconds of work has been done that is in progress"},
    {"workqueue_longest_running_processor_seconds", "gauge",
     "How many seconds has the longest running processor been running"},
    {"controller_runtime_reconcile_total", "counter",
     "Total number of reconciliations per controller"},
    {"controller_runtime_reconcile_errors_total", "counter",
     "Total number of reconciliation errors per controller"},
    {"controller_runtime_reconcile_time_seconds", "histogram",
     "Length of time per reconciliation per controller", 41},
    {"controller_runtime_active_workers", "gauge",
     "Number of currently used workers per controller"},
    {"kube_operator_stuck_workers", "gauge",
     "Workers in one reconcile for longer than --reconcile-timeout, per controller"},
    {"controller_runtime_max_concurrent_reconciles", "gauge",
     "Maximum number of concurrent reconciles per controller"},
    {"rest_client_requests_total", "counter",
     "Number of HTTP requests, partitioned by status code, method, and host."},
    {"rest_client_request_duration_seconds", "histogram",
     "Request latency in seconds. Broken down by verb, and host.", 13},
    {"rest_client_rate_limiter_duration_seconds", "histogram",
     "Client side rate limiter latency in seconds. Broken down by verb, and host.", 13},
    {"process_resident_memory_bytes", "gauge", "Resident memory size in bytes."},
    {"process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds."},
    {"process_open_fds", "gauge", "Number of open file descriptors."},
    {"process_start_time_seconds", "gauge",
     "Start time of the process since unix epoch in seconds."},
    {"leader_election_master_status", "gauge",
     "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 "
     "indicates master. 'name' is the string used to identify the lease."},
    {"kube_operator_environments", "gauge",
     "Environments in the operator's cache, by status.phase"},
    {"kube_operator_build_info", "gauge",
     "A metric with a constant '1' value labeled by version, revision and compiler from which "
     "kube-operator was built."},
    {"kube_operator_environment_ready_seconds", "histogram",
     "Seconds from an Environment's creation until it first reported Ready", 12},
    {"kube_operator_secrets_fetches_total", "counter",
     "Fetches of Environments' secrets from the Catalyst web app, by result (Synced or the "
     "SecretsSynced reason)"},
    {"kube_operator_secrets_fetch_duration_seconds", "histogram",
     "Latency of fetches of Environments' secrets from the Catalyst web app", 13},
    {"kube_operator_chart_renders_total", "counter",
     "Helm chart renders (helm mode: clone and helm template), by result (OK or the failure's "
     "status code)"},
    {"kube_operator_chart_render_duration_seconds", "histogram",
     "How long a Helm chart's clone and render took (helm mode)", 13},
};

// A family is written only once it has a series: each is given one here.
std::string ScrapeOfEveryFamily() {
  Metrics m("environment", "h:6443", 2);
  m.Depth("q", 1);
  m.Add("q");
  m.QueueLatency("q", absl::Milliseconds(1));
  m.WorkDuration("q", absl::Milliseconds(1));
  m.Retry("q");
  m.SetUnfinishedWork("q", absl::Seconds(1), absl::Seconds(1));
  m.ReconcileDone("error", absl::Milliseconds(1));
  m.ActiveWorkers(1);
  m.StuckWorkers(0);
  m.Observe("GET", "GET", "200", absl::Milliseconds(1));
  m.ObserveRateLimiterWait("GET", absl::Milliseconds(1));
  m.SetLeader("lease", true);
  m.SetEnvironmentPhases({{"Ready", 1}});
  m.EnvironmentReady(absl::Seconds(1));
  m.SecretsFetched("Synced", absl::Milliseconds(1));
  m.ChartRendered("OK", absl::Seconds(2));
  return m.Scrape();
}

TEST(MetricsTest, EveryFamilyIsWrittenWithItsTypeHelpAndBuckets) {
  const std::string text = ScrapeOfEveryFamily();
  size_t families = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n'))
    if (absl::StartsWith(line, "# TYPE ")) ++families;
  EXPECT_EQ(families, std::size(kFamilies)) << text;
  for (const Family& f : kFamilies) {
    EXPECT_THAT(text, HasSubstr(absl::StrCat("# HELP ", f.name, " ", f.help, "\n")));
    EXPECT_THAT(text, HasSubstr(absl::StrCat("# TYPE ", f.name, " ", f.type, "\n")));
    int buckets = 0;  // of the one series each histogram has here
    for (absl::string_view line : absl::StrSplit(text, '\n'))
      if (absl::StartsWith(line, absl::StrCat(f.name, "_bucket{"))) ++buckets;
    EXPECT_EQ(buckets, f.buckets) << f.name;
  }
}

TEST(MetricsTest, BuildInfo) {
  Metrics m("environment", "h", 1);
  EXPECT_THAT(m.Scrape(), HasSubstr(absl::StrCat("kube_operator_build_info{compiler=\"", kCompiler,
                                                 "\",revision=\"", kRevision, "\",version=\"",
                                                 kVersion, "\"} 1")));
  EXPECT_THAT(kRevision, Not(HasSubstr("@")));
  EXPECT_STRNE(kRevision, "");
}

// Helm cannot read meson.build: the chart's appVersion is checked against it here.
TEST(MetricsTest, ChartAppVersionIsTheMesonVersion) {
  std::ifstream in(SOURCE_ROOT "/deploy/kube-operator/Chart.yaml");
  ASSERT_TRUE(in) << "no Chart.yaml";
  std::string line, app_version;
  while (std::getline(in, line)) {
    absl::string_view v(line);
    if (absl::ConsumePrefix(&v, "appVersion:"))
      app_version = std::string(absl::StripAsciiWhitespace(v));
  }
  EXPECT_EQ(app_version, absl::StrCat("\"", kVersion, "\""))
      << "deploy/kube-operator/Chart.yaml appVersion differs from meson.build's version";
}

}  // namespace
}  // namespace ops
