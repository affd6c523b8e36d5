#include "ops/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ops {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Polls `done` until it holds or `timeout` passes.
bool WaitFor(absl::Duration timeout, const std::function<bool()>& done) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

int Threads() {
  std::ifstream status("/proc/self/status");
  std::string line;
  int n = 0;
  while (std::getline(status, line)) {
    absl::string_view v(line);
    if (absl::ConsumePrefix(&v, "Threads:")) (void)absl::SimpleAtoi(v, &n);
  }
  return n;
}

struct Response {
  int code = 0;  // 0: none came
  std::string head;
  std::string body;
};

// A client connection on loopback. Every read has a timeout, so a server that
// does not answer fails the test instead of hanging it.
class Conn {
 public:
  Conn(const std::string& host, int port, absl::Duration timeout = absl::Seconds(5)) {
    const bool v6 = absl::StrContains(host, ':');
    fd_ = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv = absl::ToTimeval(timeout);
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int rc;
    if (v6) {
      sockaddr_in6 sa{};
      sa.sin6_family = AF_INET6;
      sa.sin6_port = htons(static_cast<uint16_t>(port));
      inet_pton(AF_INET6, host.c_str(), &sa.sin6_addr);
      rc = connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    } else {
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_port = htons(static_cast<uint16_t>(port));
      inet_pton(AF_INET, host.c_str(), &sa.sin_addr);
      rc = connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    }
    connected_ = rc == 0;
  }
  ~Conn() { close(fd_); }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  bool connected() const { return connected_; }
  void Send(const std::string& s) { (void)send(fd_, s.data(), s.size(), MSG_NOSIGNAL); }

  // One response: the head, then Content-Length bytes of body (none for a HEAD).
  Response Read(bool head_request = false) {
    Response r;
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!Fill()) return r;
    r.head = buf_.substr(0, end + 4);
    buf_.erase(0, end + 4);
    (void)absl::SimpleAtoi(r.head.substr(9, 3), &r.code);
    size_t length = 0;
    if (size_t at = r.head.find("Content-Length: "); at != std::string::npos)
      (void)absl::SimpleAtoi(r.head.substr(at + 16, r.head.find("\r\n", at) - at - 16), &length);
    if (head_request) length = 0;
    while (buf_.size() < length)
      if (!Fill()) return r;
    r.body = buf_.substr(0, length);
    buf_.erase(0, length);
    return r;
  }

  // Whatever arrives until the server closes; nullopt-like "timeout" marker
  // when it does not close within the read timeout.
  std::string ReadToClose() {
    while (Fill()) {
    }
    return closed_ ? std::exchange(buf_, "") : "<timeout>";
  }

 private:
  bool Fill() {
    char b[4096];
    const ssize_t n = recv(fd_, b, sizeof b, 0);
    if (n == 0) closed_ = true;
    if (n <= 0) return false;
    buf_.append(b, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
  std::string buf_;
};

Response Exchange(int port, const std::string& request, const std::string& host = "127.0.0.1") {
  Conn c(host, port);
  if (!c.connected()) return {};
  c.Send(request);
  return c.Read(absl::StartsWith(request, "HEAD "));
}

HttpReply Ok() { return {200, "text/plain", "ok\n"}; }

TEST(HttpServerTest, RoutesPathsAndAnswersErrors) {
  HttpServer server("127.0.0.1:0");
  std::atomic<bool> ready{false};  // read on the server's thread
  server.Handle("/readyz", [&] {
    return ready ? Ok() : HttpReply{503, "text/plain", "caches not synced\n"};
  });
  server.Handle("/healthz", Ok);
  server.Handle("/boom", []() -> HttpReply { throw std::runtime_error("kaput"); });
  ASSERT_TRUE(server.Start().ok());
  ASSERT_GT(server.port(), 0);
  const int port = server.port();

  Response r = Exchange(port, "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_THAT(r.head, StartsWith("HTTP/1.1 503 Service Unavailable\r\n"));
  EXPECT_EQ(r.body, "caches not synced\n");
  ready = true;
  r = Exchange(port, "GET /readyz?verbose HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_THAT(r.head, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(r.head, HasSubstr("Content-Length: 3\r\n"));
  EXPECT_THAT(r.head, HasSubstr("Content-Type: text/plain\r\n"));
  EXPECT_EQ(r.body, "ok\n");

  r = Exchange(port, "GET /nope HTTP/1.1\r\n\r\n");
  EXPECT_THAT(r.head, StartsWith("HTTP/1.1 404 Not Found\r\n"));
  EXPECT_EQ(r.body, "no handler for /nope (this server has /boom, /healthz, /readyz)\n");
  for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS", "BREW"}) {
    r = Exchange(port, absl::StrCat(method, " /readyz HTTP/1.1\r\nContent-Length: 0\r\n\r\n"));
    EXPECT_THAT(r.head, StartsWith("HTTP/1.1 405 Method Not Allowed\r\n")) << method;
    EXPECT_THAT(r.head, HasSubstr("Allow: GET, HEAD\r\n")) << method;
    EXPECT_EQ(r.body, absl::StrCat("method ", method, " not allowed: GET or HEAD\n"));
  }
  r = Exchange(port, "garbage\r\n\r\n");
  EXPECT_THAT(r.head, StartsWith("HTTP/1.1 400 Bad Request\r\n"));
  EXPECT_THAT(r.body, StartsWith("bad request: "));
  r = Exchange(port, "GET /boom HTTP/1.1\r\n\r\n");
  EXPECT_THAT(r.head, StartsWith("HTTP/1.1 500 Internal Server Error\r\n"));
  EXPECT_EQ(r.body, "handler failed: kaput\n");
  r = Exchange(
      port, absl::StrCat("GET /healthz HTTP/1.1\r\nX-Big: ", std::string(20000, 'x'), "\r\n\r\n"));
  EXPECT_EQ(r.code, 431);
}

TEST(HttpServerTest, HeadAnswersHeadersOnly) {
  HttpServer server("127.0.0.1:0");
  server.Handle("/readyz", [] { return HttpReply{503, "text/plain", "caches not synced\n"}; });
  ASSERT_TRUE(server.Start().ok());
  {
    // Closed after the reply: everything the server sent is the head.
    Conn c("127.0.0.1", server.port());
    c.Send("HEAD /readyz HTTP/1.1\r\nConnection: close\r\n\r\n");
    const std::string all = c.ReadToClose();
    EXPECT_THAT(all, StartsWith("HTTP/1.1 503 Service Unavailable\r\n"));
    EXPECT_THAT(all, HasSubstr("Content-Length: 18\r\n"));  // the body it would have
    EXPECT_EQ(all.find("\r\n\r\n"), all.size() - 4) << "a body after the head: " << all;
  }
  // On a kept-alive connection the next reply follows the head directly.
  Conn c("127.0.0.1", server.port());
  c.Send("HEAD /readyz HTTP/1.1\r\n\r\nGET /readyz HTTP/1.1\r\n\r\n");
  const Response head = c.Read(/*head_request=*/true);
  EXPECT_EQ(head.code, 503);
  EXPECT_EQ(head.body, "");
  const Response get = c.Read();
  EXPECT_EQ(get.code, 503);
  EXPECT_EQ(get.body, "caches not synced\n");
}

TEST(HttpServerTest, KeepsConnectionsAliveAndAnswersPipelinedRequests) {
  HttpServer server("127.0.0.1:0");
  int n = 0;  // the server's thread only
  server.Handle("/n", [&n] { return HttpReply{200, "text/plain", absl::StrCat(++n)}; });
  ASSERT_TRUE(server.Start().ok());
  Conn c("127.0.0.1", server.port());
  c.Send("GET /n HTTP/1.1\r\n\r\nGET /n HTTP/1.1\r\n\r\n");
  EXPECT_EQ(c.Read().body, "1");
  EXPECT_EQ(c.Read().body, "2");
  c.Send("GET /n HTTP/1.1\r\n\r\n");
  EXPECT_EQ(c.Read().body, "3");
  // HTTP/1.0 without keep-alive: closed after the reply.
  c.Send("GET /n HTTP/1.0\r\n\r\n");
  const Response last = c.Read();
  EXPECT_EQ(last.body, "4");
  EXPECT_EQ(c.ReadToClose(), "");
}

TEST(HttpServerTest, BindsIpv4AndIpv6) {
  HttpServer v4("127.0.0.1:0");
  v4.Handle("/healthz", Ok);
  ASSERT_TRUE(v4.Start().ok());
  EXPECT_EQ(Exchange(v4.port(), "GET /healthz HTTP/1.1\r\n\r\n").body, "ok\n");
  EXPECT_EQ(Exchange(v4.port(), "GET /healthz HTTP/1.1\r\n\r\n", "::1").code, 0) << "v4 only";

  HttpServer v6("[::1]:0");
  v6.Handle("/healthz", Ok);
  const absl::Status s = v6.Start();
  if (absl::StrContains(s.message(), "Cannot assign requested address") ||
      absl::StrContains(s.message(), "Address family not supported"))
    GTEST_SKIP() << "no IPv6 loopback here: " << s;
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_GT(v6.port(), 0);
  EXPECT_EQ(Exchange(v6.port(), "GET /healthz HTTP/1.1\r\n\r\n", "::1").body, "ok\n");

  // Every interface: IPv6 and IPv4 on one port.
  HttpServer any(":0");
  any.Handle("/healthz", Ok);
  ASSERT_TRUE(any.Start().ok());
  EXPECT_EQ(Exchange(any.port(), "GET /healthz HTTP/1.1\r\n\r\n", "::1").body, "ok\n");
  EXPECT_EQ(Exchange(any.port(), "GET /healthz HTTP/1.1\r\n\r\n", "127.0.0.1").body, "ok\n");
}

TEST(HttpServerTest, ProbesAnswerWhile100ConnectionsAreIdle) {
  HttpServer server("127.0.0.1:0");
  server.Handle("/healthz", Ok);
  ASSERT_TRUE(server.Start().ok());
  const int threads = Threads();
  // 50 connections that never send, 50 kept alive after a request.
  std::vector<std::unique_ptr<Conn>> idle;
  for (int i = 0; i < 100; ++i) {
    idle.push_back(std::make_unique<Conn>("127.0.0.1", server.port()));
    ASSERT_TRUE(idle.back()->connected());
    if (i % 2 == 1) {
      idle.back()->Send("GET /healthz HTTP/1.1\r\n\r\n");
      ASSERT_EQ(idle.back()->Read().code, 200) << "connection " << i;
    }
  }
  ASSERT_TRUE(WaitFor(absl::Seconds(10), [&] { return server.OpenConnections() == 100; }))
      << server.OpenConnections();
  for (int i = 0; i < 5; ++i) {
    const absl::Time start = absl::Now();
    Conn probe("127.0.0.1", server.port(), /*timeout=*/absl::Seconds(2));
    probe.Send("GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(probe.Read().code, 200) << "probe " << i;
    EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  }
  EXPECT_EQ(Threads(), threads) << "no thread per connection";
}

TEST(HttpServerTest, AtTheLimitTheLongestIdleConnectionMakesRoom) {
  HttpServer server("127.0.0.1:0", {.max_connections = 3});
  server.Handle("/healthz", Ok);
  ASSERT_TRUE(server.Start().ok());
  std::vector<std::unique_ptr<Conn>> idle;
  for (int i = 0; i < 3; ++i) {
    idle.push_back(std::make_unique<Conn>("127.0.0.1", server.port()));
    // One at a time, so that "longest idle" is well defined.
    ASSERT_TRUE(WaitFor(absl::Seconds(10), [&] { return server.OpenConnections() == i + 1; }));
  }
  EXPECT_EQ(Exchange(server.port(), "GET /healthz HTTP/1.1\r\n\r\n").code, 200);
  EXPECT_EQ(idle[0]->ReadToClose(), "") << "the oldest idle connection is closed";
  EXPECT_TRUE(WaitFor(absl::Seconds(10), [&] { return server.OpenConnections() <= 3; }));
}

TEST(HttpServerTest, ClosesConnectionsThatStayIdle) {
  HttpServer server("127.0.0.1:0", {.idle_timeout = absl::Milliseconds(100)});
  server.Handle("/healthz", Ok);
  ASSERT_TRUE(server.Start().ok());
  Conn silent("127.0.0.1", server.port());
  Conn kept("127.0.0.1", server.port());
  kept.Send("GET /healthz HTTP/1.1\r\n\r\n");
  EXPECT_EQ(kept.Read().code, 200);
  EXPECT_EQ(silent.ReadToClose(), "");
  EXPECT_EQ(kept.ReadToClose(), "");
  EXPECT_TRUE(WaitFor(absl::Seconds(10), [&] { return server.OpenConnections() == 0; }));
}

TEST(HttpServerTest, StopClosesTheListenerAndConnections) {
  HttpServer server("127.0.0.1:0");
  server.Handle("/healthz", Ok);
  ASSERT_TRUE(server.Start().ok());
  Conn open("127.0.0.1", server.port());
  ASSERT_TRUE(WaitFor(absl::Seconds(10), [&] { return server.OpenConnections() == 1; }));
  server.Stop();
  EXPECT_EQ(open.ReadToClose(), "");
  EXPECT_FALSE(Conn("127.0.0.1", server.port()).connected());
  EXPECT_EQ(server.Start().code(), absl::StatusCode::kFailedPrecondition);
}

// Stop ends connections in every state: silent, halfway through a request,
// kept alive after a reply, lingering after the last one.
TEST(HttpServerTest, StopEndsConnectionsInEveryState) {
  HttpServer server("127.0.0.1:0");
  server.Handle("/healthz", Ok);
  ASSERT_TRUE(server.Start().ok());
  Conn silent("127.0.0.1", server.port());
  Conn half("127.0.0.1", server.port());
  half.Send("GET /heal");
  Conn kept("127.0.0.1", server.port());
  kept.Send("GET /healthz HTTP/1.1\r\n\r\n");
  ASSERT_EQ(kept.Read().code, 200);
  Conn lingering("127.0.0.1", server.port());
  lingering.Send("GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n");
  ASSERT_EQ(lingering.Read().code, 200);
  ASSERT_TRUE(WaitFor(absl::Seconds(10), [&] { return server.OpenConnections() == 4; }));
  server.Stop();
  EXPECT_EQ(server.OpenConnections(), 0);
  for (Conn* c : {&silent, &half, &kept, &lingering}) EXPECT_EQ(c->ReadToClose(), "");
}

// Requests on the filter pool when Stop comes: their connections are closed
// at once, no reply is written, and Stop returns once the filter has.
TEST(HttpServerTest, StopClosesConnectionsWhileTheFilterRunsAndWaitsForIt) {
  std::mutex mu;
  std::condition_variable cv;
  int calls = 0;         // guarded by mu
  bool release = false;  // guarded by mu
  HttpServerOptions options;
  options.filter_threads = 2;
  options.filter = [&](const HttpRequest&) -> std::optional<HttpReply> {
    std::unique_lock l(mu);
    ++calls;
    cv.notify_all();
    cv.wait_for(l, std::chrono::seconds(10), [&] { return release; });
    return std::nullopt;
  };
  HttpServer server("127.0.0.1:0", std::move(options));
  server.Handle("/healthz", Ok);
  ASSERT_TRUE(server.Start().ok());
  Conn a("127.0.0.1", server.port()), b("127.0.0.1", server.port());
  a.Send("GET /healthz HTTP/1.1\r\n\r\n");
  b.Send("GET /healthz HTTP/1.1\r\n\r\n");
  {
    std::unique_lock l(mu);
    ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(10), [&] { return calls == 2; }));
  }
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    server.Stop();
    stopped = true;
  });
  EXPECT_EQ(a.ReadToClose(), "");
  EXPECT_EQ(b.ReadToClose(), "");
  EXPECT_FALSE(stopped.load()) << "Stop returned with the filter still running";
  {
    std::lock_guard l(mu);
    release = true;
  }
  cv.notify_all();
  stopper.join();
  EXPECT_EQ(server.OpenConnections(), 0);
}

TEST(HttpServerTest, BadOrTakenAddressesAreErrors) {
  for (const char* bad : {"nonsense", "host.example:80", ":99999", ":8o", ":", "::1:80", "[::1",
                          "[::1]", "[127.0.0.1]:80", "1.2.3:80", ":+80"}) {
    EXPECT_EQ(HttpServer(bad).Start().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  HttpServer first("127.0.0.1:0");
  ASSERT_TRUE(first.Start().ok());
  const std::string address = absl::StrCat("127.0.0.1:", first.port());
  absl::Status taken = HttpServer(address).Start();
  EXPECT_EQ(taken.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(taken.message(), HasSubstr(address));
  EXPECT_THAT(taken.message(), HasSubstr("in use"));
}

TEST(HttpBindAddressTest, ParsesControllerRuntimeForms) {
  struct Case {
    const char* in;
    const char* host;
    int port;
  } cases[] = {{":8080", "", 8080},           {"127.0.0.1:0", "127.0.0.1", 0},
               {"[::1]:8081", "::1", 8081},   {"[::]:9", "::", 9},
               {"0.0.0.0:80", "0.0.0.0", 80}, {"localhost:8081", "127.0.0.1", 8081}};
  for (const Case& c : cases) {
    auto a = ParseBindAddress(c.in);
    ASSERT_TRUE(a.ok()) << c.in << ": " << a.status();
    EXPECT_EQ(a->host, c.host) << c.in;
    EXPECT_EQ(a->port, c.port) << c.in;
  }
  EXPECT_THAT(ParseBindAddress("::1:8080").status().message(), HasSubstr("brackets"));
  // "0" means "off" to the flags; the caller handles it before an address is parsed.
  EXPECT_EQ(ParseBindAddress("0").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ops
