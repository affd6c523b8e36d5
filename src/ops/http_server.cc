#include "ops/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace ops {

absl::StatusOr<std::pair<std::string, int>> ParseBindAddress(const std::string& address) {
  const size_t colon = address.rfind(':');
  int port = -1;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port) ||
      port < 0 || port > 65535)
    return absl::InvalidArgumentError(
        absl::StrCat("bind address \"", address, "\" is not host:port or :port"));
  return std::make_pair(address.substr(0, colon), port);
}

absl::Status HttpServer::Start() {
  auto addr = ParseBindAddress(address_);
  if (!addr.ok()) return addr.status();
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(addr->second));
  const std::string host = addr->first.empty() ? "0.0.0.0" : addr->first;
  if (inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1)
    return absl::InvalidArgumentError(
        absl::StrCat("bind address \"", address_, "\": not an IPv4 address"));
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  const int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      listen(listen_fd_, 16) != 0) {
    const std::string err = std::strerror(errno);
    close(listen_fd_);
    listen_fd_ = -1;
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address_, ": ", err));
  }
  socklen_t len = sizeof sa;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&sa), &len);
  port_ = ntohs(sa.sin_port);
  thread_ = std::thread([this] { Serve(); });
  return absl::OkStatus();
}

void HttpServer::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) close(listen_fd_);
  listen_fd_ = -1;
}

void HttpServer::Serve() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;  // wake up to notice Stop()
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    Answer(fd);
    close(fd);
  }
}

void HttpServer::Answer(int fd) {
  // A slow or silent client must not hold the server: 2 s to send the request.
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string req;
  char buf[2048];
  while (req.find("\r\n\r\n") == std::string::npos && req.size() < 16384) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return;
    req.append(buf, static_cast<size_t>(n));
  }
  // "GET /path?query HTTP/1.1"
  absl::string_view line(req);
  line = line.substr(0, line.find("\r\n"));
  const size_t sp1 = line.find(' ');
  const size_t sp2 = line.find(' ', sp1 + 1);
  HttpReply reply{404, "text/plain; charset=utf-8", "not found\n"};
  if (sp1 == absl::string_view::npos || sp2 == absl::string_view::npos) {
    reply = {400, "text/plain; charset=utf-8", "bad request\n"};
  } else {
    absl::string_view method = line.substr(0, sp1);
    absl::string_view path = line.substr(sp1 + 1, sp2 - sp1 - 1);
    path = path.substr(0, path.find('?'));
    if (method != "GET" && method != "HEAD") {
      reply = {405, "text/plain; charset=utf-8", "method not allowed\n"};
    } else if (auto it = handlers_.find(std::string(path)); it != handlers_.end()) {
      reply = it->second();
    }
  }
  const std::string head =
      absl::StrCat("HTTP/1.1 ", reply.code, reply.code == 200 ? " OK" : " Error",
                   "\r\nContent-Type: ", reply.content_type,
                   "\r\nContent-Length: ", reply.body.size(), "\r\nConnection: close\r\n\r\n");
  const std::string out = head + reply.body;
  size_t sent = 0;
  while (sent < out.size()) {
    const ssize_t n = send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

}  // namespace ops
