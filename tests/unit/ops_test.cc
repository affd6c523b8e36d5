#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
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
