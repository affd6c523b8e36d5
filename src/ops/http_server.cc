#include "ops/http_server.h"

// Asio brackets each handler with std::atomic_thread_fence, which TSan does
// not model: GCC warns (an error here) on every use. The handoff between
// threads goes through the scheduler's mutex as well, and that TSan sees.
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wtsan"
#endif

#include <arpa/inet.h>
#include <openssl/ssl.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <exception>
#include <fstream>
#include <list>
#include <map>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "ops/tls.h"
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

// A PEM file is a few KiB; anything past this is not one.
constexpr std::streamsize kPemLimit = 1 << 20;

bool IsHttpError(const beast::error_code& ec) {
  return &ec.category() == &http::make_error_code(http::error::bad_method).category();
}

absl::StatusOr<std::string> ReadPem(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  std::string data(static_cast<size_t>(kPemLimit) + 1, '\0');
  in.read(data.data(), kPemLimit + 1);
  data.resize(static_cast<size_t>(in.gcount()));
  if (data.size() > static_cast<size_t>(kPemLimit))
    return absl::InvalidArgumentError(absl::StrCat(path, ": larger than 1 MiB"));
  return data;
}

timespec MTime(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return {};
  return st.st_mtim;
}

// A server context: TLS 1.2 or later (controller-runtime's minimum), the
// certificate chain and its key, which must match.
absl::StatusOr<std::shared_ptr<asio::ssl::context>> MakeTlsContext(const std::string& cert_pem,
                                                                   const std::string& key_pem) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::single_dh_use);
  beast::error_code ec;
  // The key first: a certificate that does not match it then drops it, and
  // the check below says so in words.
  ctx->use_private_key(asio::buffer(key_pem), asio::ssl::context::pem, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("private key: ", ec.message()));
  ctx->use_certificate_chain(asio::buffer(cert_pem), ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("certificate: ", ec.message()));
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1)
    return absl::InvalidArgumentError("the private key does not match the certificate");
  return ctx;
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
  class SessionBase;
  template <typename Stream>
  class Session;

  Impl(std::string a, HttpServerOptions o) : address(std::move(a)), options(std::move(o)) {}

  void Accept();
  // A session ended: one connection fewer; accept again if that was paused.
  void Closed();
  // Stop's part on the loop: stop accepting, close every connection. The
  // loop then runs out of work (and returns) once the last session has ended.
  void Shutdown();
  // The filter, then the handler (or 404/405). Runs on the filter pool when
  // there is a filter, else on the loop.
  HttpReply Answer(const HttpRequest& req) const;
  // HTTPS: the context from the certificate files, or a self-signed one.
  absl::Status LoadTls();
  // HTTPS with files: a new context when either file changed (loop thread).
  void MaybeReloadTls();

  const std::string address;
  const HttpServerOptions options;
  std::map<std::string, Handler> handlers;  // read-only once started
  std::atomic<int> port{0};
  std::atomic<int> open{0};
  bool started = false;  // Start/Stop's caller only

  // Destroyed by Stop once the loop has returned and the pool is joined, with
  // no session left: the I/O objects before their io_context.
  std::optional<asio::io_context> io;
  // The loop returns only when Stop lets it: not when every connection's
  // request happens to be on the filter pool with the listener paused.
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::optional<tcp::acceptor> acceptor;
  std::optional<asio::steady_timer> accept_retry;
  std::thread thread;
  // The filter's threads: it may wait for the API server, the loop must not.
  std::optional<asio::thread_pool> pool;
  // Set by Stop first (any thread): filter work still queued skips the filter.
  std::atomic<bool> stopping{false};

  // The server's thread only (and Start's and Stop's, while it does not run).
  bool stopped = false;                     // Shutdown ran: nothing new starts
  bool accepting = false;                   // an async_accept is pending
  std::list<SessionBase*> sessions;         // every open connection, for Shutdown
  std::list<SessionBase*> idle;             // waiting for a request, longest first
  std::shared_ptr<asio::ssl::context> tls;  // HTTPS: what new connections use
  absl::Time tls_checked;                   // when the files were last looked at
  std::pair<timespec, timespec> tls_mtimes{};
};

// What the server's lists, eviction and Shutdown see of a connection. Every
// member is the loop's: a session lives and dies on it.
class HttpServer::Impl::SessionBase {
 public:
  SessionBase(Impl* server, std::shared_ptr<asio::ssl::context> tls)
      : server_(server),
        tls_(std::move(tls)),
        pos_(server->sessions.insert(server->sessions.end(), this)) {}
  virtual ~SessionBase() {
    SetIdle(false);
    server_->sessions.erase(pos_);
    server_->Closed();
  }
  SessionBase(const SessionBase&) = delete;
  SessionBase& operator=(const SessionBase&) = delete;

  // Makes room for a new connection, or ends it at Stop: what is pending ends
  // with operation_aborted, nothing new starts, and the session ends with its
  // last handler. Destroys nothing itself, so Shutdown may walk the list.
  void Close() {
    closed_ = true;
    SetIdle(false);
    CloseStream();
  }

 protected:
  virtual void CloseStream() = 0;

  void SetIdle(bool idle) {
    if (idle == idle_pos_.has_value()) return;
    if (idle) {
      idle_pos_ = server_->idle.insert(server_->idle.end(), this);
    } else {
      server_->idle.erase(*idle_pos_);
      idle_pos_.reset();
    }
  }

  Impl* const server_;
  // The context this connection's TLS state came from, kept while it lives
  // (a reload replaces the server's).
  const std::shared_ptr<asio::ssl::context> tls_;
  // Close() ran. A completion already queued when it did may still come with
  // success: what would start an operation checks this first.
  bool closed_ = false;

 private:
  const std::list<SessionBase*>::iterator pos_;                // in server_->sessions
  std::optional<std::list<SessionBase*>::iterator> idle_pos_;  // set while in server_->idle
};

// One connection: (a TLS handshake,) read a request, answer it, again while
// the client keeps it alive.
template <typename Stream>
class HttpServer::Impl::Session final : public SessionBase,
                                        public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  Session(tcp::socket socket, Impl* server, std::shared_ptr<asio::ssl::context> tls)
      : SessionBase(server, std::move(tls)), stream_(MakeStream(std::move(socket), tls_.get())) {}

  void Start() {
    if constexpr (kTls) {
      // A connection that never finishes its handshake counts as idle: at
      // the limit it makes room like one that never sends a request.
      Lowest().expires_after(absl::ToChronoNanoseconds(server_->options.idle_timeout));
      SetIdle(true);
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                self->SetIdle(false);
                                if (!ec) self->Read();
                              });
    } else {
      Read();
    }
  }

  void CloseStream() override { Lowest().close(); }

 private:
  static Stream MakeStream(tcp::socket socket, asio::ssl::context* tls) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *tls);
    } else {
      (void)tls;
      return Stream(std::move(socket));
    }
  }

  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  void Read() {
    if (closed_) return;
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(kBodyLimit);
    Lowest().expires_after(absl::ToChronoNanoseconds(server_->options.idle_timeout));
    SetIdle(true);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) {
                       self->SetIdle(false);
                       self->OnRead(ec);
                     });
  }

  void OnRead(const beast::error_code& ec) {
    if (closed_) return;
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow)
      return Refuse(431, "request headers too large\n");
    if (ec == http::error::body_limit) return Refuse(413, "request body too large\n");
    // The client closed or went quiet (end_of_stream, partial_message, timeout): nothing to say.
    if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
        (ec && !IsHttpError(ec)))
      return;
    if (ec) return Refuse(400, absl::StrCat("bad request: ", ec.message(), "\n"));
    const http::request<http::string_body>& req = parser_->get();
    const absl::string_view target(req.target().data(), req.target().size());
    const beast::string_view method = req.method_string();
    const auto auth = req.find(http::field::authorization);
    HttpRequest info{std::string(method.data(), method.size()),
                     std::string(target.substr(0, target.find('?'))),
                     auth == req.end() ? std::string()
                                       : std::string(auth->value().data(), auth->value().size())};
    const unsigned version = req.version();
    const bool keep_alive = req.keep_alive();
    const bool head = req.method() == http::verb::head;
    if (!server_->options.filter) return Reply(server_->Answer(info), version, keep_alive, head);
    // The filter may wait for the API server: it runs on the pool, and the
    // reply is written back on the loop (which owns the stream; the pool
    // touches none of it). The work guard keeps the loop running until the
    // reply is back, so that the session ends there, Stop or not.
    asio::post(*server_->pool,
               [self = this->shared_from_this(), info = std::move(info), version, keep_alive, head,
                work = asio::make_work_guard(*server_->io)]() mutable {
                 // Stopping: the reply would not be written, so the filter is not asked.
                 std::optional<HttpReply> reply;
                 if (!self->server_->stopping.load()) reply = self->server_->Answer(info);
                 asio::post(work.get_executor(), [self = std::move(self), reply = std::move(reply),
                                                  version, keep_alive, head]() mutable {
                   if (reply) self->Reply(*std::move(reply), version, keep_alive, head);
                 });
               });
  }

  // A request that could not be read: say why, then close.
  void Refuse(int code, std::string body) {
    Reply({code, "text/plain; charset=utf-8", std::move(body)}, 11, /*keep_alive=*/false,
          /*head=*/false);
  }

  void Reply(HttpReply reply, unsigned version, bool keep_alive, bool head) {
    if (closed_) return;
    response_ = {};
    response_.version(version);
    response_.result(static_cast<unsigned>(reply.code));
    response_.set(http::field::content_type, reply.content_type);
    response_.set(http::field::cache_control, "no-store");
    response_.set("X-Content-Type-Options", "nosniff");
    if (reply.code == 405) response_.set(http::field::allow, "GET, HEAD");
    if (reply.code == 401) response_.set(http::field::www_authenticate, "Bearer");
    response_.keep_alive(keep_alive);
    // A HEAD reply says how long the body would be, and leaves it out.
    response_.content_length(reply.body.size());
    if (!head) response_.body() = std::move(reply.body);
    Lowest().expires_after(absl::ToChronoNanoseconds(server_->options.idle_timeout));
    http::async_write(stream_, response_,
                      [self = this->shared_from_this(), keep_alive](beast::error_code ec, size_t) {
                        if (ec) return;
                        if (keep_alive) return self->Read();
                        self->Linger();
                      });
  }

  // The last reply is out: say so, then drain what the client still sends
  // until it closes (or kLinger passes) rather than reset the connection.
  // Over TLS, saying so is the close_notify exchange.
  void Linger() {
    if (closed_) return;
    Lowest().expires_after(kLinger);
    if constexpr (kTls) {
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
    } else {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      stream_.async_read_some(asio::buffer(drain_),
                              [self = this->shared_from_this()](beast::error_code ec, size_t) {
                                if (!ec) self->Linger();
                              });
    }
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  char drain_[512] = {};
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
    if (open.load() >= options.max_connections && !idle.empty()) idle.front()->Close();
    ++open;
    if (tls) {
      // TLS writes a reply as several records: without this, Nagle holds the
      // second until the client's delayed ACK (40 ms a request, measured).
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      MaybeReloadTls();
      std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(std::move(socket), this, tls)
          ->Start();
    } else {
      std::make_shared<Session<beast::tcp_stream>>(std::move(socket), this, nullptr)->Start();
    }
    Accept();
  });
}

void HttpServer::Impl::Closed() {
  --open;
  Accept();
}

void HttpServer::Impl::Shutdown() {
  stopped = true;
  beast::error_code ignored;
  acceptor->close(ignored);
  accept_retry->cancel();
  for (SessionBase* session : sessions) session->Close();
  work.reset();
}

HttpReply HttpServer::Impl::Answer(const HttpRequest& req) const {
  if (options.filter) {
    try {
      if (std::optional<HttpReply> refused = options.filter(req)) return *std::move(refused);
    } catch (const std::exception& e) {
      return {500, "text/plain; charset=utf-8", absl::StrCat("filter failed: ", e.what(), "\n")};
    }
  }
  if (req.method != "GET" && req.method != "HEAD")
    return {405, "text/plain; charset=utf-8",
            absl::StrCat("method ", req.method, " not allowed: GET or HEAD\n")};
  auto it = handlers.find(req.path);
  if (it == handlers.end()) {
    std::vector<std::string> paths;
    for (const auto& [p, h] : handlers) paths.push_back(p);
    return {404, "text/plain; charset=utf-8",
            absl::StrCat("no handler for ", req.path, " (this server has ",
                         absl::StrJoin(paths, ", "), ")\n")};
  }
  try {
    return it->second();
  } catch (const std::exception& e) {
    return {500, "text/plain; charset=utf-8", absl::StrCat("handler failed: ", e.what(), "\n")};
  }
}

absl::Status HttpServer::Impl::LoadTls() {
  const HttpsOptions& h = *options.https;
  if (h.cert_file.empty() != h.key_file.empty())
    return absl::InvalidArgumentError("HTTPS needs both a certificate and a key file, or neither");
  if (h.cert_file.empty()) {
    auto pem = SelfSignedCertificate(h.self_signed_hosts.empty() ? DefaultCertificateHosts()
                                                                 : h.self_signed_hosts);
    if (!pem.ok()) return pem.status();
    auto ctx = MakeTlsContext(pem->cert, pem->key);
    if (!ctx.ok()) return ctx.status();
    tls = *std::move(ctx);
    return absl::OkStatus();
  }
  auto cert = ReadPem(h.cert_file), key = ReadPem(h.key_file);
  if (!cert.ok()) return cert.status();
  if (!key.ok()) return key.status();
  auto ctx = MakeTlsContext(*cert, *key);
  if (!ctx.ok())
    return absl::InvalidArgumentError(
        absl::StrCat(h.cert_file, ", ", h.key_file, ": ", ctx.status().message()));
  tls = *std::move(ctx);
  tls_mtimes = {MTime(h.cert_file), MTime(h.key_file)};
  tls_checked = absl::Now();
  return absl::OkStatus();
}

void HttpServer::Impl::MaybeReloadTls() {
  const HttpsOptions& h = *options.https;
  if (h.cert_file.empty() || absl::Now() - tls_checked < h.reload_interval) return;
  tls_checked = absl::Now();
  const std::pair<timespec, timespec> now{MTime(h.cert_file), MTime(h.key_file)};
  auto same = [](const timespec& a, const timespec& b) {
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
  };
  if (same(now.first, tls_mtimes.first) && same(now.second, tls_mtimes.second)) return;
  // A renewal writes two files: a pair that does not match yet is tried again
  // at the next check, and the old certificate serves meanwhile.
  auto cert = ReadPem(h.cert_file), key = ReadPem(h.key_file);
  absl::StatusOr<std::shared_ptr<asio::ssl::context>> ctx = !cert.ok() ? cert.status()
                                                            : !key.ok()
                                                                ? key.status()
                                                                : MakeTlsContext(*cert, *key);
  if (!ctx.ok()) {
    util::Log(util::LogLevel::kWarn, "http", "serving certificate not reloaded",
              {{"address", address}, {"error", std::string(ctx.status().message())}});
    return;
  }
  tls = *std::move(ctx);
  tls_mtimes = now;
  util::Log(util::LogLevel::kInfo, "http", "serving certificate reloaded",
            {{"address", address}, {"cert", h.cert_file}});
}

HttpServer::HttpServer(std::string address, HttpServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(address), std::move(options))) {}

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
  if (s.options.https)
    if (absl::Status t = s.LoadTls(); !t.ok())
      return absl::InvalidArgumentError(absl::StrCat("HTTPS on ", s.address, ": ", t.message()));
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
  if (s.options.filter) s.pool.emplace(static_cast<size_t>(std::max(1, s.options.filter_threads)));
  std::vector<std::string> paths;
  for (const auto& [path, h] : s.handlers) paths.push_back(path);
  util::Log(util::LogLevel::kInfo, "http", "serving",
            {{"address", s.address},
             {"port", s.port.load()},
             {"paths", absl::StrJoin(paths, ",")},
             {"scheme", s.tls ? "https" : "http"},
             {"authorization", s.options.filter != nullptr}});
  s.Accept();
  s.work.emplace(s.io->get_executor());
  s.thread = std::thread([&s] { s.io->run(); });
  return absl::OkStatus();
}

void HttpServer::Stop() {
  Impl& s = *impl_;
  if (!s.thread.joinable()) return;
  s.stopping = true;
  // The listener, the timer and the connections are the loop's, and are
  // closed there. Closed from here (or left to die with the io_context while
  // the loop or the pool still held them), a socket could be closed while the
  // loop starts an operation on it: epoll_reactor then finds its descriptor
  // state gone.
  asio::post(*s.io, [&s] { s.Shutdown(); });
  // The loop returns when the last session has ended, those whose request is
  // on the filter pool too: each holds work on the loop until its reply is back.
  s.thread.join();
  // Only the loop gives the pool work, so what is left is the end of a job.
  if (s.pool) s.pool->join();
  // Alone now, with nothing pending: no handler, and so no session, is left
  // for these destructors.
  s.pool.reset();
  s.acceptor.reset();
  s.accept_retry.reset();
  s.io.reset();
}

}  // namespace ops
