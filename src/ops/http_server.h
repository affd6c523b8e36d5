// HttpServer: the operator's plain-HTTP endpoint for /metrics, /healthz and
// /readyz, on Boost.Beast. One thread per server runs an event loop: an idle or
// slow connection costs a socket and a few KiB, never a thread, so a probe is
// answered however many connections Prometheus, the kubelet or a port scanner
// holds open (docs/development.md, "Operations", has the figures behind the choice).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace ops {

struct HttpReply {
  int code = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;  // for an error: what happened, in a line ("caches not synced")
};

struct HttpServerOptions {
  // Connections open at once. At the limit a new connection closes the one
  // that has waited longest for a request, so a probe always gets in.
  int max_connections = 256;
  // How long a connection may take to send a request (or sit idle between
  // keep-alive requests), and to take a reply, before it is closed.
  absl::Duration idle_timeout = absl::Seconds(30);
};

// A bind address as controller-runtime takes it: "host:port", ":port" (every
// interface: IPv6 and IPv4 where the host has IPv6, else IPv4), "[IPv6]:port";
// port 0 picks a free port. The host is an IP literal or "localhost" (127.0.0.1):
// names are not resolved. ("0", the flags' "off", is the caller's to handle.)
struct BindAddress {
  std::string host;  // an IP literal, IPv6 without brackets; "": every interface
  int port = 0;
};
absl::StatusOr<BindAddress> ParseBindAddress(absl::string_view address);

class HttpServer {
 public:
  using Handler = std::function<HttpReply()>;

  explicit HttpServer(std::string address, HttpServerOptions options = {});
  ~HttpServer();  // Stop()

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Before Start. GET and HEAD of `path` (any query ignored) answer h() on the
  // server's thread; HEAD gets the headers only. Other methods get 405, other
  // paths 404, each with a line saying so.
  void Handle(const std::string& path, Handler h);
  // Binds and serves on a thread of its own; the error names the address
  // (InvalidArgument: a bad address; Unavailable: it cannot be bound). Once only.
  absl::Status Start();
  // Closes the listener and every connection and joins the thread.
  void Stop();
  // The bound port (the one picked, for port 0); 0 before Start.
  int port() const;
  // Connections open now.
  int OpenConnections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ops
