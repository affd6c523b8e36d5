// HttpServer: the operator's HTTP endpoint for /metrics, /healthz and /readyz,
// on Boost.Beast. One thread per server runs an event loop: an idle or slow
// connection costs a socket and a few KiB, never a thread, so a probe is
// answered however many connections Prometheus, the kubelet or a port scanner
// holds open (docs/development.md, "Operations", has the figures behind the choice).
// Optionally HTTPS (the secure metrics endpoint) with a request filter in front
// of the handlers (authentication and authorization, ops/metrics_auth.h), which
// runs on a small pool of its own since it may wait for the API server.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

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

// What a request filter sees of a request.
struct HttpRequest {
  std::string method;         // GET, HEAD, ...
  std::string path;           // the target without its query
  std::string authorization;  // the Authorization header; "" when absent
};
// Runs before the handler (and before 404/405): a reply refuses the request
// with it; nullopt lets it through. Called on the filter pool, not the loop.
using RequestFilter = std::function<std::optional<HttpReply>(const HttpRequest&)>;

struct HttpsOptions {
  // PEM files of the serving certificate (chain) and its key, re-read when
  // either changes (cert-manager renews them in place), looked at when a
  // connection comes in, at most every reload_interval.
  // Both empty: a self-signed certificate for `self_signed_hosts`, made at Start.
  std::string cert_file;
  std::string key_file;
  std::vector<std::string> self_signed_hosts;          // empty: DefaultCertificateHosts()
  absl::Duration reload_interval = absl::Seconds(10);  // how often the files are looked at
};

struct HttpServerOptions {
  // Connections open at once. At the limit a new connection closes the one
  // that has waited longest for a request, so a probe always gets in.
  int max_connections = 256;
  // How long a connection may take to send a request (or sit idle between
  // keep-alive requests), and to take a reply, before it is closed.
  absl::Duration idle_timeout = absl::Seconds(30);
  // Set: HTTPS (TLS 1.2 or later) instead of plain HTTP.
  std::optional<HttpsOptions> https;
  // Set: every request goes through it first, on `filter_threads` threads.
  RequestFilter filter;
  int filter_threads = 2;
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
  // Stops accepting and closes every connection, on the server's thread (a
  // request still on the filter pool gets no reply, one not started skips the
  // filter); waits for them to end, joins, then frees the loop. Not from a
  // handler or the filter (it waits for them), nor concurrently with Start.
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
