// HttpServer: the operator's small plain-HTTP endpoint for /metrics,
// /healthz and /readyz. One thread, one request per connection: scrapes and
// probes are tiny and rare, and nothing here may block the controller.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ops {

struct HttpReply {
  int code = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class HttpServer {
 public:
  using Handler = std::function<HttpReply()>;

  // address: ":8080", "127.0.0.1:8080", or ":0" for any free port.
  explicit HttpServer(std::string address) : address_(std::move(address)) {}
  ~HttpServer() { Stop(); }

  void Handle(const std::string& path, Handler h) { handlers_[path] = std::move(h); }
  // Binds and serves on a thread of its own; the error names the address.
  absl::Status Start();
  void Stop();
  int port() const { return port_; }

 private:
  void Serve();
  void Answer(int fd);

  const std::string address_;
  std::map<std::string, Handler> handlers_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Parses "host:port" / ":port" (host empty: all interfaces).
absl::StatusOr<std::pair<std::string, int>> ParseBindAddress(const std::string& address);

}  // namespace ops
