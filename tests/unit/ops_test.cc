#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ops/http_server.h"
#include "ops/metrics.h"

namespace ops {
namespace {

using ::testing::HasSubstr;

// A raw HTTP/1.1 exchange with the server on loopback.
std::string Get(int port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    close(fd);
    return "connect failed";
  }
  send(fd, request.data(), request.size(), 0);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

TEST(HttpServerTest, RoutesPathsAndAnswersErrors) {
  HttpServer server("127.0.0.1:0");
  std::atomic<bool> ready{false};  // read on the server's thread
  server.Handle("/readyz", [&] {
    return ready ? HttpReply{200, "text/plain", "ok\n"}
                 : HttpReply{503, "text/plain", "not synced\n"};
  });
  ASSERT_TRUE(server.Start().ok());
  ASSERT_GT(server.port(), 0);
  EXPECT_THAT(Get(server.port(), "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n"),
              HasSubstr("HTTP/1.1 503"));
  ready = true;
  const std::string ok = Get(server.port(), "GET /readyz?verbose HTTP/1.1\r\n\r\n");
  EXPECT_THAT(ok, HasSubstr("HTTP/1.1 200 OK"));
  EXPECT_THAT(ok, HasSubstr("Content-Length: 3\r\n"));
  EXPECT_THAT(ok, HasSubstr("\r\n\r\nok\n"));
  EXPECT_THAT(Get(server.port(), "GET /nope HTTP/1.1\r\n\r\n"), HasSubstr("HTTP/1.1 404"));
  EXPECT_THAT(Get(server.port(), "POST /readyz HTTP/1.1\r\n\r\n"), HasSubstr("HTTP/1.1 405"));
  EXPECT_THAT(Get(server.port(), "garbage\r\n\r\n"), HasSubstr("HTTP/1.1 400"));
  server.Stop();
  EXPECT_EQ(Get(server.port(), "GET /readyz HTTP/1.1\r\n\r\n"), "connect failed");
}

TEST(HttpServerTest, BadOrTakenAddressesAreErrors) {
  EXPECT_FALSE(HttpServer("nonsense").Start().ok());
  EXPECT_FALSE(HttpServer("host.example:80").Start().ok());
  EXPECT_FALSE(HttpServer(":99999").Start().ok());
  HttpServer first("127.0.0.1:0");
  ASSERT_TRUE(first.Start().ok());
  absl::Status taken = HttpServer(absl::StrCat("127.0.0.1:", first.port())).Start();
  EXPECT_EQ(taken.code(), absl::StatusCode::kUnavailable);
}

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
