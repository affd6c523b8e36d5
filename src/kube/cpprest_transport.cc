// The only translation unit that includes cpprest: it compiles slowly.
#include "kube/cpprest_transport.h"

#include <cpprest/http_client.h>
#include <pplx/threadpool.h>

#include <algorithm>
#include <array>
#include <boost/asio/ssl.hpp>
#include <future>
#include <memory>
#include <mutex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "kube/api_error.h"

namespace kube {
namespace {

namespace http = web::http;
namespace client = web::http::client;

class CpprestTransport final : public Transport {
 public:
  CpprestTransport(const RestConfig& config, const CpprestOptions& options)
      : token_(config.token),
        user_agent_(config.user_agent),
        requests_(config.server, MakeConfig(config, options.request_idle_timeout)),
        streams_(config.server, MakeConfig(config, options.stream_idle_timeout)) {}

  absl::StatusOr<HttpResponse> Send(const HttpRequest& req) override {
    auto msg = Build(req);
    if (!msg.ok()) return msg.status();
    // cpprest has no deadline per request, only its idle timer per connection
    // (on a stalled pooled connection: a minute, after which it quietly resends
    // the request). So the caller waits here no longer than req.timeout, then
    // cancels: cpprest closes the socket and keeps the connection out of its
    // pool, and the client's retry gets a fresh one.
    using Result = absl::StatusOr<HttpResponse>;
    auto done = std::make_shared<std::promise<Result>>();
    std::future<Result> result = done->get_future();
    pplx::cancellation_token_source cts;
    try {
      requests_.request(*msg, cts.get_token())
          .then([](const http::http_response& resp) {
            return resp.extract_utf8string(true).then([head = Head(resp)](std::string body) {
              HttpResponse out = head;
              out.body = std::move(body);
              return out;
            });
          })
          .then([done, what = absl::StrCat(req.method, " ", PathOnly(req.path))](
                    const pplx::task<HttpResponse>& t) {
            try {
              done->set_value(t.get());
            } catch (const std::exception& e) {
              done->set_value(SendError(absl::StrCat(what, ": ", e.what()), e.what()));
            }
          });
    } catch (const std::exception& e) {
      return TransportError(absl::StrCat(req.method, " ", PathOnly(req.path), ": ", e.what()));
    }
    if (req.timeout > absl::ZeroDuration() && req.timeout != absl::InfiniteDuration() &&
        result.wait_for(absl::ToChronoNanoseconds(req.timeout)) != std::future_status::ready) {
      cts.cancel();
      return RequestTimeoutError(req);
    }
    return result.get();
  }

  absl::StatusOr<HttpResponse> Stream(const HttpRequest& req, util::Cancellation& cancel,
                                      absl::FunctionRef<bool(absl::string_view)> on_data) override {
    auto msg = Build(req);
    if (!msg.ok()) return msg.status();
    pplx::cancellation_token_source cts;
    const int cb = cancel.OnCancel([cts]() mutable { cts.cancel(); });
    struct Unregister {
      util::Cancellation& c;
      int id;
      ~Unregister() { c.Remove(id); }
    } unregister{cancel, cb};
    try {
      http::http_response resp = streams_.request(*msg, cts.get_token()).get();
      HttpResponse out = Head(resp);
      if (out.status < 200 || out.status > 299) {
        out.body = resp.extract_utf8string(true).get();
        return out;
      }
      // read_line is slow (byte at a time): wait for one byte, then take
      // whatever else has arrived in one go.
      auto buf = resp.body().streambuf();
      std::array<uint8_t, 64 * 1024> chunk;
      bool ended = false;
      while (!cancel.cancelled()) {
        size_t n = buf.getn(chunk.data(), 1).get();
        if (n == 0) {
          ended = true;
          break;
        }
        const size_t more = std::min(chunk.size() - 1, static_cast<size_t>(buf.in_avail()));
        if (more > 0) n += buf.getn(chunk.data() + 1, more).get();
        if (!on_data(absl::string_view(reinterpret_cast<const char*>(chunk.data()), n))) break;
      }
      // Left before the end (the consumer stopped, e.g. on a line it cannot
      // decode): close the connection, or cpprest goes on reading the body
      // into memory in the background for as long as the server sends it.
      if (!ended) cts.cancel();
      return out;
    } catch (const std::exception& e) {
      if (cancel.cancelled()) return HttpResponse{.status = 200};
      return TransportError(absl::StrCat(req.method, " ", PathOnly(req.path), ": ", e.what()));
    }
  }

 private:
  static std::string PathOnly(const std::string& path) { return path.substr(0, path.find('?')); }

  // cpprest's messages (http_client_asio.cpp) for failures before the server
  // has the whole request: e.g. a pooled connection the server closed (it
  // restarted) fails "Failed to write request body". Anything later (reading
  // the status line or the body) may follow a request the server acted on.
  static absl::Status SendError(absl::string_view message, absl::string_view cpprest_what) {
    for (absl::string_view not_sent : {"Failed to connect to any resolved endpoint",
                                       "Failed to write request", "Error in SSL handshake"})
      if (absl::StartsWith(cpprest_what, not_sent)) return NotSentError(message);
    return TransportError(message);
  }

  static client::http_client_config MakeConfig(const RestConfig& c, absl::Duration timeout) {
    client::http_client_config cfg;
    cfg.set_timeout(std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout)));
    cfg.set_validate_certificates(!c.insecure_skip_tls_verify);
    cfg.set_ssl_context_callback([ca = c.ca_pem, cert = c.client_cert_pem,
                                  key = c.client_key_pem](boost::asio::ssl::context& ctx) {
      if (!ca.empty()) {
        // cpprest has loaded the system CA bundle into this per-connection
        // context (~600 KiB of parsed certificates each). A kubeconfig CA is
        // the only one trusted, as in client-go: drop the bundle.
        SSL_CTX_set_cert_store(ctx.native_handle(), X509_STORE_new());
        ctx.add_certificate_authority(boost::asio::buffer(ca));
      }
      if (!cert.empty()) ctx.use_certificate_chain(boost::asio::buffer(cert));
      if (!key.empty())
        ctx.use_private_key(boost::asio::buffer(key), boost::asio::ssl::context::pem);
    });
    return cfg;
  }

  absl::StatusOr<http::http_request> Build(const HttpRequest& req) {
    http::http_request msg(req.method);
    msg.set_request_uri(req.path);
    msg.headers().add("Accept", req.accept);
    msg.headers().add("User-Agent", user_agent_);
    if (!req.bearer.empty()) {
      msg.headers().add("Authorization", absl::StrCat("Bearer ", req.bearer));
    } else if (token_) {
      auto token = token_->Token();
      if (!token.ok()) return token.status();
      if (!token->empty()) msg.headers().add("Authorization", absl::StrCat("Bearer ", *token));
    }
    if (!req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH")
      msg.set_body(req.body, req.content_type.empty() ? "application/json" : req.content_type);
    return msg;
  }

  static HttpResponse Head(const http::http_response& resp) {
    HttpResponse out;
    out.status = resp.status_code();
    out.content_type = resp.headers().content_type();
    auto it = resp.headers().find("Retry-After");
    if (it != resp.headers().end()) out.retry_after = it->second;
    // (cpprest compares header names without case.)
    it = resp.headers().find("X-Kubernetes-PF-FlowSchema-UID");
    if (it != resp.headers().end()) out.flow_schema_uid = it->second;
    it = resp.headers().find("X-Kubernetes-PF-PriorityLevel-UID");
    if (it != resp.headers().end()) out.priority_level_uid = it->second;
    return out;
  }

  const std::shared_ptr<TokenSource> token_;
  const std::string user_agent_;
  client::http_client requests_;
  client::http_client streams_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Transport>> NewCpprestTransport(const RestConfig& config,
                                                               const CpprestOptions& options) {
  static std::once_flag pool_sized;
  std::call_once(pool_sized, [&] {
    try {
      crossplat::threadpool::initialize_with_threads(options.pool_threads);
    } catch (const std::exception&) {
      // Someone used cpprest before us; its default pool stands.
    }
  });
  if (config.server.rfind("https://", 0) != 0 && config.server.rfind("http://", 0) != 0)
    return absl::InvalidArgumentError(
        absl::StrCat("server URL must be http(s)://: ", config.server));
  try {
    return std::make_unique<CpprestTransport>(config, options);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("bad API server config: ", e.what()));
  }
}

}  // namespace kube
