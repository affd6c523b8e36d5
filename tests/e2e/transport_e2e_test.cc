// The cpprest transport's per-request timeout against the real API server:
// a pooled keep-alive connection that goes silent without closing (a dead
// NAT entry, a hung middlebox) costs a request its timeout, not cpprest's
// 60 s inactivity timer; the client's retry then succeeds on a fresh
// connection, and watches are not cut by the request timeout.
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <future>
#include <iostream>
#include <mutex>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "e2e/harness.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/api_error.h"
#include "kube/cpprest_transport.h"
#include "support/tcp_proxy.h"

namespace e2e {
namespace {

using namespace kube::resources;
using ::testing::HasSubstr;
using testing_support::TcpProxy;

class CodeLog : public kube::RequestObserver {
 public:
  void Observe(absl::string_view, absl::string_view, absl::string_view code,
               absl::Duration) override {
    std::lock_guard l(mu_);
    codes_.emplace_back(code);
  }
  std::string Seen() {
    std::lock_guard l(mu_);
    return absl::StrJoin(codes_, ",");
  }

 private:
  std::mutex mu_;
  std::vector<std::string> codes_;
};

// Client-side TCP connections to port that are established now (the remote
// end is port; closed ones linger in FIN_WAIT states, not counted).
int EstablishedTo(int port) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // the header
  int n = 0;
  while (std::getline(in, line)) {
    std::vector<std::string> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.size() < 4) continue;
    const size_t colon = f[2].find(':');  // rem_address: 0100007F:1F90
    if (colon == std::string::npos) continue;
    const long remote_port = std::strtol(f[2].c_str() + colon + 1, nullptr, 16);
    if (remote_port == port && f[3] == "01") ++n;  // 01: ESTABLISHED
  }
  return n;
}

struct Timed {
  absl::StatusOr<kube::Object> result;
  absl::Duration took;
};

// A GET on a thread of its own, waited for no longer than bound (an overrun
// is a failure, and still waited for, so the figure is printed).
Timed TimedGet(kube::Client& client, absl::Duration bound) {
  auto done = std::async(std::launch::async, [&client] {
    const absl::Time start = absl::Now();
    auto result = client.Get(kNamespaces, "", "default");
    return Timed{std::move(result), absl::Now() - start};
  });
  if (done.wait_for(absl::ToChronoNanoseconds(bound)) != std::future_status::ready)
    ADD_FAILURE() << "the GET took longer than " << bound;
  return done.get();
}

class TransportE2E : public ::testing::Test {
 protected:
  static constexpr absl::Duration kTimeout = absl::Seconds(2);

  void SetUp() override {
    std::string server = AdminConfig().server;
    server = server.substr(server.find("://") + 3);
    const size_t colon = server.rfind(':');
    int port = 0;
    ASSERT_TRUE(absl::SimpleAtoi(server.substr(colon + 1), &port)) << server;
    auto proxy = TcpProxy::Start(server.substr(0, colon), port);
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    proxy_ = std::move(*proxy);
  }

  // The admin identity over TLS through the proxy, with a kTimeout request timeout.
  std::unique_ptr<kube::Client> ClientThroughProxy(int max_attempts) {
    kube::RestConfig config = AdminConfig();
    config.server = absl::StrCat("https://127.0.0.1:", proxy_->port());
    auto transport = kube::NewCpprestTransport(config);
    EXPECT_TRUE(transport.ok()) << transport.status();
    if (!transport.ok()) return nullptr;
    return std::make_unique<kube::Client>(std::move(*transport),
                                          kube::ClientOptions{.max_attempts = max_attempts,
                                                              .token = config.token,
                                                              .observer = &codes_,
                                                              .request_timeout = kTimeout});
  }

  // One GET leaves one idle connection in the client's pool; then it stalls.
  void StallThePooledConnection(kube::Client& client) {
    auto warm = client.Get(kNamespaces, "", "default");
    ASSERT_TRUE(warm.ok()) << warm.status();
    ASSERT_EQ(proxy_->accepted(), 1);
    ASSERT_TRUE(WaitFor(absl::Seconds(5), [&] { return EstablishedTo(proxy_->port()) == 1; }))
        << EstablishedTo(proxy_->port());
    proxy_->StallOpenConnections();
  }

  std::unique_ptr<TcpProxy> proxy_;
  CodeLog codes_;
};

TEST_F(TransportE2E, AStalledPooledConnectionCostsOneRequestTimeoutAndTheRetrySucceeds) {
  auto client = ClientThroughProxy(/*max_attempts=*/5);
  ASSERT_TRUE(client);
  StallThePooledConnection(*client);
  if (HasFatalFailure()) return;

  Timed t = TimedGet(*client, kTimeout + absl::Seconds(4));
  std::cout << "[ figure ] GET sent on a stalled pooled connection (" << kTimeout
            << " request timeout), until it succeeded: " << t.took << "\n";
  EXPECT_TRUE(t.result.ok()) << t.result.status();
  EXPECT_GE(t.took, kTimeout) << "the GET did not meet the stalled connection";
  EXPECT_EQ(codes_.Seen(), "200,<error>,200");
  EXPECT_EQ(proxy_->accepted(), 2) << "the retry did not open a fresh connection";
  // The stalled connection is closed (not back in the pool): only the fresh
  // one is still established.
  EXPECT_TRUE(WaitFor(absl::Seconds(5), [&] { return EstablishedTo(proxy_->port()) == 1; }))
      << EstablishedTo(proxy_->port());

  // The next request finds the fresh connection, not the stalled one.
  Timed again = TimedGet(*client, kTimeout);
  EXPECT_TRUE(again.result.ok()) << again.result.status();
  EXPECT_LT(again.took, kTimeout);
  EXPECT_EQ(proxy_->accepted(), 2);
}

TEST_F(TransportE2E, ARequestPastItsTimeoutFailsWithDeadlineExceededNamingTheTimeout) {
  auto client = ClientThroughProxy(/*max_attempts=*/1);
  ASSERT_TRUE(client);
  StallThePooledConnection(*client);
  if (HasFatalFailure()) return;

  Timed t = TimedGet(*client, kTimeout + absl::Seconds(3));
  EXPECT_EQ(t.result.status().code(), absl::StatusCode::kDeadlineExceeded) << t.result.status();
  EXPECT_THAT(std::string(t.result.status().message()),
              HasSubstr("GET /api/v1/namespaces/default: no response within the 2s request "
                        "timeout"));
  EXPECT_TRUE(kube::apierrors::IsRetryable(t.result.status()));
  EXPECT_GE(t.took, kTimeout);
  EXPECT_LT(t.took, kTimeout + absl::Seconds(2));
  EXPECT_TRUE(WaitFor(absl::Seconds(5), [&] { return EstablishedTo(proxy_->port()) == 0; }))
      << "the timed-out connection is still open";
}

TEST_F(TransportE2E, AWatchOutlivesTheRequestTimeout) {
  TestNamespace ns("transport");
  auto client = ClientThroughProxy(/*max_attempts=*/5);
  ASSERT_TRUE(client);
  auto list = client->List(kConfigMaps, ns.name(), {});
  ASSERT_TRUE(list.ok()) << list.status();

  util::Cancellation cancel;
  std::atomic<int> added = 0;
  std::atomic<bool> ended = false;
  absl::Status status;
  std::thread watcher([&] {
    status = client->Watch(
        kConfigMaps, ns.name(), {.resource_version = list->resource_version, .timeout_seconds = 60},
        cancel, [&](const kube::WatchEvent& ev) {
          // Only ours: kube-controller-manager adds kube-root-ca.crt to a
          // new namespace too, maybe after the list.
          if (ev.type == kube::WatchEvent::Type::kAdded && ev.object.Name() == "late") ++added;
          return true;
        });
    ended = true;
  });
  // Nothing happens for twice the request timeout: the stream must stay open.
  EXPECT_FALSE(WaitFor(2 * kTimeout, [&] { return ended.load(); })) << status;
  ASSERT_TRUE(Admin()
                  .Create(kConfigMaps, ns.name(),
                          R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"late"}})")
                  .ok());
  EXPECT_TRUE(WaitFor(absl::Seconds(10), [&] { return added.load() == 1; }));
  EXPECT_FALSE(ended.load()) << status;
  cancel.Cancel();
  watcher.join();
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << status;
}

}  // namespace
}  // namespace e2e
