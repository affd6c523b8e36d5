#include "ops/http_server.h"

#include <arpa/inet.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <exception>
#include <list>
#include <map>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "util/log.h"

namespace ops {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// Probes and scrapes send a request line and a few headers, and no body.
constexpr uint32_t kHeaderLimit = 16 * 1024;
constexpr uint64_t kBodyLimit = uint64_t{16} * 1024;
// After the last reply on a connection: how long unread input is drained so
// that closing does not reset the connection before the client read the reply.
constexpr auto kLinger = std::chrono::seconds(1);
// An accept that failed (out of descriptors, ...) is tried again after this.
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);

bool IsHttpError(const beast::error_code& ec) {
  return &ec.category() == &http::make_error_code(http::error::bad_method).category();
}

}  // namespace

absl::StatusOr<BindAddress> ParseBindAddress(absl::string_view address) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("bind address \"", address, "\": ", why));
  };
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) return bad("want host:port, :port or [IPv6]:port");
  absl::string_view host = address.substr(0, colon);
  const absl::string_view port_text = address.substr(colon + 1);
  int port = -1;
  if (port_text.empty() || port_text.size() > 5 ||
      !std::all_of(port_text.begin(), port_text.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(port_text, &port) || port > 65535)
    return bad("the port is not a number in 0..65535");
  in6_addr v6{};
  in_addr v4{};
  if (absl::ConsumePrefix(&host, "[")) {
    if (!absl::ConsumeSuffix(&host, "]") ||
        inet_pton(AF_INET6, std::string(host).c_str(), &v6) != 1)
      return bad("not an IPv6 address in brackets");
  } else if (absl::StrContains(host, ':')) {
    return bad("an IPv6 address goes in brackets, as in [::1]:8080");
  } else if (host == "localhost") {
    host = "127.0.0.1";
  } else if (!host.empty() && inet_pton(AF_INET, std::string(host).c_str(), &v4) != 1) {
    return bad("the host is not an IP address (names are not resolved)");
  }
  return BindAddress{std::string(host), port};
}

struct HttpServer::Impl {
  class Session;

  Impl(std::string a, HttpServerOptions o) : address(std::move(a)), options(o) {}

  void Accept();
  // A session ended: one connection fewer; accept again if that was paused.
  void Closed();
  HttpReply Answer(const http::request<http::string_body>& req) const;

  const std::string address;
  const HttpServerOptions options;
  std::map<std::string, Handler> handlers;  // read-only once started
  std::atomic<int> port{0};
  std::atomic<int> open{0};
  bool started = false;  // Start/Stop's caller only

  // Destroyed in this order by Stop (the I/O objects before their io_context,
  // which destroys the sessions still in its handlers).
  std::optional<asio::io_context> io;
  std::optional<tcp::acceptor> acceptor;
  std::optional<asio::steady_timer> accept_retry;
  std::thread thread;

  // The server's thread only (and Stop's, once that thread has ended).
  bool stopped = false;
  bool accepting = false;    // an async_accept is pending
  std::list<Session*> idle;  // waiting for a request, longest first
};

// One connection: read a request, answer it, again while the client keeps it alive.
class HttpServer::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Impl* server) : stream_(std::move(socket)), server_(server) {}
  ~Session() {
    SetIdle(false);
    server_->Closed();
  }

  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void Read() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(kBodyLimit);
    stream_.expires_after(absl::ToChronoNanoseconds(server_->options.idle_timeout));
    SetIdle(true);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       self->SetIdle(false);
                       self->OnRead(ec);
                     });
  }

  // Makes room for a new connection: the pending read ends, and with it the session.
  void Evict() {
    SetIdle(false);
    stream_.close();
  }

 private:
  void OnRead(const beast::error_code& ec) {
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow)
      return Refuse(431, "request headers too large\n");
    if (ec == http::error::body_limit) return Refuse(413, "request body too large\n");
    // The client closed or went quiet (end_of_stream, partial_message, timeout): nothing to say.
    if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
        (ec && !IsHttpError(ec)))
      return;
    if (ec) return Refuse(400, absl::StrCat("bad request: ", ec.message(), "\n"));
    const http::request<http::string_body>& req = parser_->get();
    Reply(server_->Answer(req), req.version(), req.keep_alive(), req.method() == http::verb::head);
  }

  // A request that could not be read: say why, then close.
  void Refuse(int code, std::string body) {
    Reply({code, "text/plain; charset=utf-8", std::move(body)}, 11, /*keep_alive=*/false,
          /*head=*/false);
  }

  void Reply(HttpReply reply, unsigned version, bool keep_alive, bool head) {
    response_ = {};
    response_.version(version);
    response_.result(static_cast<unsigned>(reply.code));
    response_.set(http::field::content_type, reply.content_type);
    response_.set(http::field::cache_control, "no-store");
    response_.set("X-Content-Type-Options", "nosniff");
    if (reply.code == 405) response_.set(http::field::allow, "GET, HEAD");
    response_.keep_alive(keep_alive);
    // A HEAD reply says how long the body would be, and leaves it out.
    response_.content_length(reply.body.size());
    if (!head) response_.body() = std::move(reply.body);
    stream_.expires_after(absl::ToChronoNanoseconds(server_->options.idle_timeout));
    http::async_write(stream_, response_,
                      [self = shared_from_this(), keep_alive](beast::error_code ec, size_t) {
                        if (ec) return;
                        if (keep_alive) return self->Read();
                        self->Linger();
                      });
  }

  // The last reply is out: say so, then drain what the client still sends
  // until it closes (or kLinger passes) rather than reset the connection.
  void Linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(kLinger);
    stream_.async_read_some(asio::buffer(drain_),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (!ec) self->Linger();
                            });
  }

  void SetIdle(bool idle) {
    if (idle == idle_pos_.has_value()) return;
    if (idle) {
      idle_pos_ = server_->idle.insert(server_->idle.end(), this);
    } else {
      server_->idle.erase(*idle_pos_);
      idle_pos_.reset();
    }
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  char drain_[512] = {};
  std::optional<std::list<Session*>::iterator> idle_pos_;  // set while in server_->idle
  Impl* const server_;
};

void HttpServer::Impl::Accept() {
  if (stopped || accepting) return;
  // At the limit with nobody to make room: Closed() resumes accepting.
  if (open.load() >= options.max_connections && idle.empty()) return;
  accepting = true;
  acceptor->async_accept([this](beast::error_code ec, tcp::socket socket) {
    accepting = false;
    if (stopped || ec == asio::error::operation_aborted) return;
    if (ec) {
      // Out of descriptors or the like: try again shortly, not in a hot loop.
      accept_retry->expires_after(kAcceptRetry);
      accept_retry->async_wait([this](beast::error_code e) {
        if (!e) Accept();
      });
      return;
    }
    if (open.load() >= options.max_connections && !idle.empty()) idle.front()->Evict();
    ++open;
    std::make_shared<Session>(std::move(socket), this)->Read();
    Accept();
  });
}

void HttpServer::Impl::Closed() {
  --open;
  Accept();
}

HttpReply HttpServer::Impl::Answer(const http::request<http::string_body>& req) const {
  const absl::string_view target(req.target().data(), req.target().size());
  const absl::string_view path = target.substr(0, target.find('?'));
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    const beast::string_view method = req.method_string();
    return {405, "text/plain; charset=utf-8",
            absl::StrCat("method ", absl::string_view(method.data(), method.size()),
                         " not allowed: GET or HEAD\n")};
  }
  auto it = handlers.find(std::string(path));
  if (it == handlers.end()) {
    std::vector<std::string> paths;
    for (const auto& [p, h] : handlers) paths.push_back(p);
    return {404, "text/plain; charset=utf-8",
            absl::StrCat("no handler for ", path, " (this server has ", absl::StrJoin(paths, ", "),
                         ")\n")};
  }
  try {
    return it->second();
  } catch (const std::exception& e) {
    return {500, "text/plain; charset=utf-8", absl::StrCat("handler failed: ", e.what(), "\n")};
  }
}

HttpServer::HttpServer(std::string address, HttpServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(address), options)) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Handle(const std::string& path, Handler h) {
  impl_->handlers[path] = std::move(h);
}

int HttpServer::port() const { return impl_->port.load(); }

int HttpServer::OpenConnections() const { return impl_->open.load(); }

absl::Status HttpServer::Start() {
  Impl& s = *impl_;
  if (s.started) return absl::FailedPreconditionError("HttpServer::Start called twice");
  auto addr = ParseBindAddress(s.address);
  if (!addr.ok()) return addr.status();
  beast::error_code ec;
  std::vector<tcp::endpoint> candidates;
  if (addr->host.empty()) {
    // Every interface: IPv6 taking IPv4 too, or IPv4 alone on a host without IPv6.
    candidates = {{asio::ip::address_v6::any(), static_cast<uint16_t>(addr->port)},
                  {asio::ip::address_v4::any(), static_cast<uint16_t>(addr->port)}};
  } else {
    candidates = {{asio::ip::make_address(addr->host, ec), static_cast<uint16_t>(addr->port)}};
    if (ec)
      return absl::InvalidArgumentError(
          absl::StrCat("bind address \"", s.address, "\": ", ec.message()));
  }
  s.io.emplace(1);
  s.acceptor.emplace(*s.io);
  s.accept_retry.emplace(*s.io);
  auto fail = [&](absl::string_view what) {
    s.acceptor.reset();
    s.accept_retry.reset();
    s.io.reset();
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", s.address, ": ", what, ": ", ec.message()));
  };
  tcp::endpoint endpoint;
  for (const tcp::endpoint& candidate : candidates) {
    endpoint = candidate;
    s.acceptor->open(endpoint.protocol(), ec);
    if (ec != asio::error::address_family_not_supported) break;
  }
  if (ec) return fail("socket");
  // "::" (":port", "[::]:port") takes IPv4 too, as Go's listeners do.
  if (endpoint.address().is_v6() && endpoint.address().is_unspecified())
    s.acceptor->set_option(asio::ip::v6_only(false), ec);
  s.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  s.acceptor->bind(endpoint, ec);
  if (ec) return fail("bind");
  s.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen");
  s.port = s.acceptor->local_endpoint(ec).port();
  s.started = true;
  std::vector<std::string> paths;
  for (const auto& [path, h] : s.handlers) paths.push_back(path);
  util::Log(
      util::LogLevel::kInfo, "http", "serving",
      {{"address", s.address}, {"port", s.port.load()}, {"paths", absl::StrJoin(paths, ",")}});
  s.Accept();
  s.thread = std::thread([&s] { s.io->run(); });
  return absl::OkStatus();
}

void HttpServer::Stop() {
  Impl& s = *impl_;
  if (!s.thread.joinable()) return;
  s.io->stop();
  s.thread.join();
  // The thread has ended: what follows runs alone. Destroying the io_context
  // destroys the handlers it still holds, and with them the sessions.
  s.stopped = true;
  s.acceptor.reset();
  s.accept_retry.reset();
  s.io.reset();
}

}  // namespace ops
