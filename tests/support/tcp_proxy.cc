#include "support/tcp_proxy.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace testing_support {
namespace {

absl::Status Errno(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

void NoDelay(int fd) {
  // Small writes go out as they come, so one server write stays one read.
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int Connect(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0) return -1;
  int fd = -1;
  for (addrinfo* a = res; a; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd >= 0) NoDelay(fd);
  return fd;
}

bool WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// If d is a whole number of HTTP/1.1 chunks (the body's last, empty chunk not
// among them), the offset and size of the first chunk's data.
std::optional<std::pair<size_t, size_t>> WholeChunks(absl::string_view d) {
  std::optional<std::pair<size_t, size_t>> first;
  size_t i = 0;
  while (i < d.size()) {
    size_t j = i, size = 0;
    while (j < d.size() && absl::ascii_isxdigit(d[j])) {
      if (j - i == 8) return std::nullopt;
      const char c = absl::ascii_tolower(d[j++]);
      size = size * 16 + static_cast<size_t>(c <= '9' ? c - '0' : c - 'a' + 10);
    }
    if (j == i) return std::nullopt;
    const size_t crlf = d.find("\r\n", j);
    if (crlf == absl::string_view::npos || (crlf != j && d[j] != ';')) return std::nullopt;
    const size_t data = crlf + 2;
    if (size == 0 || data + size + 2 > d.size() || d.substr(data + size, 2) != "\r\n")
      return std::nullopt;
    if (!first) first = {data, size};
    i = data + size + 2;
  }
  return first;
}

std::string Chunk(absl::string_view data) {
  return absl::StrCat(absl::Hex(data.size()), "\r\n", data, "\r\n");
}

}  // namespace

absl::StatusOr<std::unique_ptr<TcpProxy>> TcpProxy::Start(std::string target_host,
                                                          int target_port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 64) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    absl::Status s = Errno("listen on 127.0.0.1");
    close(fd);
    return s;
  }
  return std::unique_ptr<TcpProxy>(
      new TcpProxy(fd, ntohs(addr.sin_port), std::move(target_host), target_port));
}

TcpProxy::TcpProxy(int listen_fd, int port, std::string host, int target_port)
    : listen_fd_(listen_fd), port_(port), host_(std::move(host)), target_port_(target_port) {
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

TcpProxy::~TcpProxy() {
  {
    std::lock_guard l(mu_);
    stopping_ = true;
    for (auto& c : conns_) CloseLocked(c.get());
  }
  shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
  acceptor_.join();
  // No lock: the acceptor is gone, nothing adds to conns_ any more.
  for (auto& c : conns_) {
    c->thread.join();
    close(c->client);
    close(c->server);
  }
  close(listen_fd_);
}

void TcpProxy::AcceptLoop() {
  for (;;) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // shut down
    }
    {
      std::lock_guard l(mu_);
      if (stopping_) {
        close(fd);
        return;
      }
      ++accepted_;
      if (refusing_) {
        close(fd);
        continue;
      }
    }
    NoDelay(fd);
    const int server = Connect(host_, target_port_);
    if (server < 0) {
      close(fd);
      continue;
    }
    auto c = std::make_unique<Conn>();
    c->client = fd;
    c->server = server;
    std::lock_guard l(mu_);
    if (stopping_) {
      close(fd);
      close(server);
      return;
    }
    Conn* raw = c.get();
    conns_.push_back(std::move(c));
    raw->thread = std::thread([this, raw] { Pump(raw); });
  }
}

void TcpProxy::Pump(Conn* c) {
  std::string buf(size_t{64} * 1024, '\0');
  pollfd fds[2] = {{c->client, POLLIN, 0}, {c->server, POLLIN, 0}};
  bool done = false;
  while (!done) {
    bool hold;
    {
      std::lock_guard l(mu_);
      hold = holding_;
    }
    // Holding: the client's socket is not read, and the flag is looked at
    // again every 20 ms (a release wakes nothing).
    fds[0].events = hold ? 0 : POLLIN;
    if (poll(fds, 2, hold ? 20 : -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    {
      std::unique_lock l(mu_);
      if (c->stalled) cv_.wait(l, [c] { return c->closed; });
      if (c->closed) return;
      hold = holding_;  // set while poll waited: the client's bytes wait too
    }
    for (int i = 0; i < 2 && !done; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      if (i == 0 && hold) {
        // A client gone while held: nothing it sent will be wanted.
        if (fds[0].revents & (POLLHUP | POLLERR)) done = true;
        continue;
      }
      const ssize_t n = read(fds[i].fd, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        done = true;
        break;
      }
      std::string data(buf.data(), static_cast<size_t>(n));
      bool close_after = false;
      if (fds[i].fd == c->server) {
        std::lock_guard l(mu_);
        close_after = ApplyFault(c, data);
      }
      if (!WriteAll(fds[1 - i].fd, data) || close_after) done = true;
    }
  }
  std::lock_guard l(mu_);
  CloseLocked(c);
}

bool TcpProxy::ApplyFault(Conn* c, std::string& data) {
  if (!fault_) return false;
  const Fault& f = *fault_;
  bool close_after = false;
  if (f.framing == Framing::kRaw) {
    if (f.kind == Fault::Kind::kGarbage) {
      data.insert(0, f.bytes);
    } else {
      if (data.size() <= f.keep) return false;  // nothing would be cut
      data.resize(f.keep);
      close_after = true;
    }
  } else {
    const auto first = WholeChunks(data);
    if (!first) return false;
    if (f.kind == Fault::Kind::kGarbage) {
      data.insert(0, Chunk(f.bytes));
    } else {
      if (first->second <= f.keep) return false;
      data = absl::StrCat(Chunk(absl::string_view(data).substr(first->first, f.keep)), "0\r\n\r\n");
      close_after = true;
    }
  }
  ++faults_;
  c->faulted = true;
  fault_.reset();
  return close_after;
}

void TcpProxy::CloseLocked(Conn* c) {
  if (c->closed) return;
  c->closed = true;
  // shutdown, not close: the pump may still be polling these descriptors,
  // which must not be reused before it has stopped (the destructor closes).
  shutdown(c->client, SHUT_RDWR);
  shutdown(c->server, SHUT_RDWR);
  cv_.notify_all();
}

void TcpProxy::StallOpenConnections() {
  std::lock_guard l(mu_);
  for (auto& c : conns_) c->stalled = true;
}

void TcpProxy::InjectGarbage(std::string bytes, Framing framing) {
  std::lock_guard l(mu_);
  fault_ = Fault{.kind = Fault::Kind::kGarbage, .framing = framing, .bytes = std::move(bytes)};
}

void TcpProxy::Truncate(size_t keep, Framing framing) {
  std::lock_guard l(mu_);
  fault_ = Fault{.kind = Fault::Kind::kTruncate, .framing = framing, .keep = keep};
}

void TcpProxy::CloseAll() {
  std::lock_guard l(mu_);
  for (auto& c : conns_) CloseLocked(c.get());
}

void TcpProxy::SetRefusing(bool refusing) {
  std::lock_guard l(mu_);
  refusing_ = refusing;
}

void TcpProxy::SetHoldingRequests(bool hold) {
  std::lock_guard l(mu_);
  holding_ = hold;
}

int64_t TcpProxy::accepted() const {
  std::lock_guard l(mu_);
  return accepted_;
}

int64_t TcpProxy::faults() const {
  std::lock_guard l(mu_);
  return faults_;
}

int TcpProxy::open_faulted() const {
  std::lock_guard l(mu_);
  int n = 0;
  for (const auto& c : conns_) n += c->faulted && !c->closed;
  return n;
}

}  // namespace testing_support
