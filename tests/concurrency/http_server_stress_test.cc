// HttpServer started and stopped while clients hammer it: Stop must close the
// listener and every connection on the loop, let the filter pool drain, join,
// and only then destroy (a socket closed or an operation started after its
// descriptor was deregistered is the epoll_reactor crash of the shutdown
// issue). Built under ASan/UBSan and TSan with the rest of this suite.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "ops/http_server.h"

namespace ops {
namespace {

constexpr int kRounds = 50;
constexpr int kClients = 3;
// Per client and round: the load is bounded even if Stop never came.
constexpr int kMaxRequests = 400;
constexpr auto kDeadline = std::chrono::seconds(30);

// Counts replies; Stop waits until a round has seen some (a condition, not a sleep).
class Counter {
 public:
  void Add() {
    {
      std::lock_guard l(mu_);
      ++n_;
    }
    cv_.notify_all();
  }
  bool WaitAtLeast(int n) {
    std::unique_lock l(mu_);
    return cv_.wait_for(l, kDeadline, [&] { return n_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int n_ = 0;  // guarded by mu_
};

// A loopback connection whose reads give up after `timeout` (a server that
// neither answers nor closes shows up as a timeout instead of a hang).
int Connect(int port, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

struct Outcome {
  int ok = 0;              // 200s read
  bool timed_out = false;  // the server neither answered nor closed
};

// Reads until the server closes or `want` replies are in.
Outcome ReadReplies(int fd, int want) {
  Outcome out;
  std::string buf;
  char b[4096];
  while (out.ok < want) {
    const ssize_t n = recv(fd, b, sizeof b, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) out.timed_out = true;
    if (n <= 0) break;
    buf.append(b, static_cast<size_t>(n));
    size_t at;
    while ((at = buf.find("HTTP/1.1 200 OK\r\n")) != std::string::npos && out.ok < want) {
      ++out.ok;
      buf.erase(0, at + 1);
    }
  }
  return out;
}

// One client: a mix of what probes and scrapers do, and of clients that
// leave mid-request, until `done` or kMaxRequests.
void Hammer(int port, int seed, const std::atomic<bool>& done, Counter& replies,
            std::atomic<int>& timeouts) {
  static const std::string kGet = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  for (int i = 0; i < kMaxRequests && !done.load(); ++i) {
    const int fd = Connect(port);
    if (fd < 0) continue;  // stopped (or stopping): connect again until done
    Outcome o;
    switch ((i + seed) % 4) {
      case 0: {  // one request, closed after the reply
        const std::string req = "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n";
        (void)send(fd, req.data(), req.size(), MSG_NOSIGNAL);
        o = ReadReplies(fd, 2);  // to the close
        break;
      }
      case 1:  // kept alive, three pipelined
        for (int k = 0; k < 3; ++k) (void)send(fd, kGet.data(), kGet.size(), MSG_NOSIGNAL);
        o = ReadReplies(fd, 3);
        break;
      case 2:  // gone before the reply: the server writes to a closed connection
        (void)send(fd, kGet.data(), kGet.size(), MSG_NOSIGNAL);
        break;
      default: {  // half a request, then a moment of silence, then gone
        (void)send(fd, kGet.data(), 10, MSG_NOSIGNAL);
        pollfd p{fd, POLLIN, 0};
        (void)poll(&p, 1, 5);
        break;
      }
    }
    close(fd);
    for (int k = 0; k < o.ok; ++k) replies.Add();
    if (o.timed_out) timeouts.fetch_add(1);
  }
}

// The same over TLS (no verification: the certificate is self-signed).
void HammerTls(int port, const std::atomic<bool>& done, Counter& replies,
               std::atomic<int>& timeouts) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                        SSL_CTX_free);
  for (int i = 0; i < kMaxRequests / 4 && !done.load(); ++i) {
    const int fd = Connect(port);
    if (fd < 0) continue;
    std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
    SSL_set_fd(ssl.get(), fd);
    if (i % 3 == 2) {  // connected, never finishes the handshake
      close(fd);
      continue;
    }
    if (SSL_connect(ssl.get()) == 1) {
      const std::string req = "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n";
      std::string got;
      char b[4096];
      if (SSL_write(ssl.get(), req.data(), static_cast<int>(req.size())) > 0) {
        int n;
        while ((n = SSL_read(ssl.get(), b, sizeof b)) > 0) got.append(b, static_cast<size_t>(n));
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && got.empty())
          timeouts.fetch_add(1);
      }
      if (absl::StartsWith(got, "HTTP/1.1 200 OK\r\n")) replies.Add();
    }
    close(fd);
  }
}

// Rounds of: start, load, stop with requests in flight, check nothing is left.
void StartStopUnderLoad(const HttpServerOptions& options, int rounds,
                        const std::function<void()>& wait_in_flight = nullptr) {
  for (int round = 0; round < rounds; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    std::optional<HttpServer> server;
    server.emplace("127.0.0.1:0", options);
    server->Handle("/healthz", [] { return HttpReply{200, "text/plain", "ok\n"}; });
    ASSERT_TRUE(server->Start().ok());
    const int port = server->port();
    std::atomic<bool> done{false};
    std::atomic<int> timeouts{0};
    Counter replies;
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&, c] {
        if (options.https)
          HammerTls(port, done, replies, timeouts);
        else
          Hammer(port, c + round, done, replies, timeouts);
      });
    }
    // Stopped once it has served a few, while the clients are still at it.
    EXPECT_TRUE(replies.WaitAtLeast(options.https ? 2 : 10));
    if (wait_in_flight) wait_in_flight();
    const absl::Time stop = absl::Now();
    if (round % 2 == 0) {
      server->Stop();
      EXPECT_EQ(server->OpenConnections(), 0);
      const int fd = Connect(port);
      EXPECT_LT(fd, 0) << "still listening after Stop";
      if (fd >= 0) close(fd);
      server.reset();
    } else {
      server.reset();  // the destructor's Stop
    }
    EXPECT_LT(absl::Now() - stop, absl::Seconds(10)) << "Stop took long";
    done = true;
    for (std::thread& t : clients) t.join();
    EXPECT_EQ(timeouts.load(), 0) << "a connection neither answered nor closed";
  }
}

TEST(HttpServerStressTest, StartStopUnderLoad) { StartStopUnderLoad({}, kRounds); }

// At the connection limit every new connection evicts an idle one while the
// clients keep coming.
TEST(HttpServerStressTest, StartStopUnderLoadAtTheConnectionLimit) {
  StartStopUnderLoad({.max_connections = 2}, kRounds / 2);
}

// With a filter, requests are on the pool when Stop comes: their replies come
// back to the loop after it began closing, and Stop waits for them.
TEST(HttpServerStressTest, StartStopWithFilterWorkInFlight) {
  std::mutex mu;
  std::condition_variable cv;
  int in_filter = 0;  // guarded by mu
  HttpServerOptions options;
  options.filter_threads = 2;
  options.filter = [&](const HttpRequest&) -> std::optional<HttpReply> {
    std::unique_lock l(mu);
    ++in_filter;
    cv.notify_all();
    // An API round trip's latency, so that work queues up on the pool.
    cv.wait_for(l, std::chrono::milliseconds(2), [] { return false; });
    --in_filter;
    return std::nullopt;
  };
  StartStopUnderLoad(options, kRounds, [&] {
    std::unique_lock l(mu);
    EXPECT_TRUE(cv.wait_for(l, kDeadline, [&] { return in_filter > 0; }));
  });
}

TEST(HttpServerStressTest, StartStopHttpsUnderLoad) {
  std::signal(SIGPIPE, SIG_IGN);  // OpenSSL writes with write(2): a closed peer is EPIPE
  StartStopUnderLoad({.https = HttpsOptions{.self_signed_hosts = {"127.0.0.1"}}}, kRounds / 5);
}

}  // namespace
}  // namespace ops
