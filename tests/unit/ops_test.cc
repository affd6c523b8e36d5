#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ops/metrics.h"

namespace ops {
namespace {

using ::testing::HasSubstr;

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

}  // namespace
}  // namespace ops
