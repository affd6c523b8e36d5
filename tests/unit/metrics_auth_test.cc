// The secure metrics endpoint: HTTPS on ops::HttpServer with the
// authentication/authorization filter of ops/metrics_auth.h in front, driven
// by fake reviewers; the decision caches on a fake clock; the self-signed and
// file certificates, and a renewal picked up without a restart.
#include "ops/metrics_auth.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/client.h"
#include "kube/object.h"
#include "ops/http_server.h"
#include "ops/tls.h"
#include "support/fake_clock.h"
#include "support/mock_transport.h"

namespace ops {
namespace {

using ::testing::HasSubstr;

struct TlsResponse {
  bool handshake = false;  // the TLS handshake (and verification, if asked) succeeded
  int code = 0;            // 0: no HTTP response
  std::string head;
  std::string body;
};

// One HTTPS request on a fresh connection to 127.0.0.1:port, "Connection:
// close". With ca_pem, the server's certificate must chain to it and name
// `host`; without, it is not verified (insecureSkipVerify). Reads time out.
TlsResponse TlsRequest(int port, const std::string& method, const std::string& path,
                       const std::string& authorization, const std::string& ca_pem = "",
                       const std::string& host = "localhost") {
  TlsResponse r;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv = absl::ToTimeval(absl::Seconds(10));
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    close(fd);
    return r;
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ca_pem.empty()) {
    BIO* bio = BIO_new_mem_buf(ca_pem.data(), static_cast<int>(ca_pem.size()));
    X509* ca = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca);
    X509_free(ca);
    BIO_free(bio);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, host.c_str());
  if (!ca_pem.empty()) SSL_set1_host(ssl, host.c_str());
  if (SSL_connect(ssl) == 1) {
    r.handshake = true;
    std::string req =
        absl::StrCat(method, " ", path, " HTTP/1.1\r\nHost: ", host, "\r\nConnection: close\r\n");
    if (!authorization.empty()) absl::StrAppend(&req, "Authorization: ", authorization, "\r\n");
    req += "\r\n";
    SSL_write(ssl, req.data(), static_cast<int>(req.size()));
    std::string all;
    char buf[4096];
    int n;
    while ((n = SSL_read(ssl, buf, sizeof buf)) > 0) all.append(buf, static_cast<size_t>(n));
    const size_t split = all.find("\r\n\r\n");
    if (split != std::string::npos && absl::StartsWith(all, "HTTP/1.1 ")) {
      r.head = all.substr(0, split);
      r.body = all.substr(split + 4);
      (void)absl::SimpleAtoi(all.substr(9, 3), &r.code);
    }
    SSL_shutdown(ssl);
  }
  ERR_clear_error();
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  close(fd);
  return r;
}

// Tokens map to users; the rest are invalid. "error" fails.
class FakeAuthenticator final : public Authenticator {
 public:
  absl::StatusOr<std::optional<UserInfo>> Authenticate(absl::string_view token) override {
    ++calls;
    if (block_on == token) {
      std::unique_lock<std::mutex> l(mu);
      blocked = true;
      cv.notify_all();
      cv.wait(l, [this] { return released; });
    }
    if (token == "error") return absl::UnavailableError("API server unreachable");
    auto it = users.find(std::string(token));
    if (it == users.end()) return std::nullopt;
    return UserInfo{it->second, "uid-" + it->second, {"system:authenticated"}, {}};
  }
  std::map<std::string, std::string> users;  // token -> username
  std::atomic<int> calls{0};
  // A request with this token waits until `released`.
  std::string block_on;
  std::mutex mu;
  std::condition_variable cv;
  bool blocked = false, released = false;
};

// Allows the listed users `get` on /metrics; "broken" fails.
class FakeAuthorizer final : public Authorizer {
 public:
  absl::StatusOr<bool> Authorize(const UserInfo& user, absl::string_view verb,
                                 absl::string_view path) override {
    ++calls;
    last_verb = std::string(verb);
    if (user.username == "broken") return absl::UnavailableError("API server unreachable");
    return allowed.count(user.username) > 0 && verb == "get" && path == "/metrics";
  }
  std::set<std::string> allowed;
  std::atomic<int> calls{0};
  std::string last_verb;
};

class SecureMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    authn_.users = {{"reader-token", "system:serviceaccount:monitoring:prometheus"},
                    {"other-token", "system:serviceaccount:default:other"},
                    {"broken-token", "broken"},
                    {"slow-token", "system:serviceaccount:monitoring:prometheus"}};
    authz_.allowed = {"system:serviceaccount:monitoring:prometheus"};
  }
  std::unique_ptr<HttpServer> Start(HttpsOptions https = {}) {
    HttpServerOptions o;
    o.https = std::move(https);
    o.filter = AuthFilter(&authn_, &authz_);
    auto s = std::make_unique<HttpServer>("127.0.0.1:0", o);
    s->Handle("/metrics", [] { return HttpReply{200, "text/plain", "up 1\n"}; });
    EXPECT_TRUE(s->Start().ok());
    return s;
  }
  FakeAuthenticator authn_;
  FakeAuthorizer authz_;
};

TEST_F(SecureMetricsTest, NoTokenIs401) {
  auto s = Start();
  TlsResponse r = TlsRequest(s->port(), "GET", "/metrics", "");
  EXPECT_TRUE(r.handshake);
  EXPECT_EQ(r.code, 401);
  EXPECT_THAT(r.head, HasSubstr("WWW-Authenticate: Bearer"));
  EXPECT_EQ(authn_.calls, 0);
  // Another scheme is no bearer token either.
  EXPECT_EQ(TlsRequest(s->port(), "GET", "/metrics", "Basic dXNlcjpwYXNz").code, 401);
  EXPECT_EQ(TlsRequest(s->port(), "GET", "/metrics", "Bearer ").code, 401);
}

TEST_F(SecureMetricsTest, RejectedTokenIs401) {
  auto s = Start();
  TlsResponse r = TlsRequest(s->port(), "GET", "/metrics", "Bearer not-a-token");
  EXPECT_EQ(r.code, 401);
  EXPECT_THAT(r.body, HasSubstr("invalid token"));
  EXPECT_EQ(authz_.calls, 0);
}

TEST_F(SecureMetricsTest, DeniedSubjectAccessReviewIs403) {
  auto s = Start();
  TlsResponse r = TlsRequest(s->port(), "GET", "/metrics", "Bearer other-token");
  EXPECT_EQ(r.code, 403);
  EXPECT_THAT(r.body, HasSubstr("system:serviceaccount:default:other"));
  EXPECT_THAT(r.body, ::testing::Not(HasSubstr("up 1")));
}

TEST_F(SecureMetricsTest, AllowedIs200AndHeadIsAGet) {
  auto s = Start();
  TlsResponse r = TlsRequest(s->port(), "GET", "/metrics", "Bearer reader-token");
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.body, "up 1\n");
  // The scheme is case-insensitive.
  EXPECT_EQ(TlsRequest(s->port(), "GET", "/metrics", "bearer reader-token").code, 200);
  TlsResponse head = TlsRequest(s->port(), "HEAD", "/metrics", "Bearer reader-token");
  EXPECT_EQ(head.code, 200);
  EXPECT_EQ(authz_.last_verb, "get");
  EXPECT_EQ(head.body, "");
}

TEST_F(SecureMetricsTest, EveryPathIsAuthorizedFirst) {
  auto s = Start();
  // Unknown paths and methods say nothing before the caller is known.
  EXPECT_EQ(TlsRequest(s->port(), "GET", "/nothing", "").code, 401);
  EXPECT_EQ(TlsRequest(s->port(), "POST", "/metrics", "").code, 401);
  // An allowed user gets the SAR's verdict for that path: only /metrics is granted.
  EXPECT_EQ(TlsRequest(s->port(), "GET", "/nothing", "Bearer reader-token").code, 403);
  EXPECT_EQ(authz_.last_verb, "get");
  EXPECT_EQ(TlsRequest(s->port(), "POST", "/metrics", "Bearer reader-token").code, 403);
  EXPECT_EQ(authz_.last_verb, "post");
}

TEST_F(SecureMetricsTest, ReviewFailuresAre500) {
  auto s = Start();
  EXPECT_EQ(TlsRequest(s->port(), "GET", "/metrics", "Bearer error").code, 500);
  EXPECT_EQ(TlsRequest(s->port(), "GET", "/metrics", "Bearer broken-token").code, 500);
}

TEST_F(SecureMetricsTest, PlainHttpGetsNoMetrics) {
  auto s = Start();
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv = absl::ToTimeval(absl::Seconds(5));
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(s->port()));
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  const std::string req = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
  std::string all;
  char buf[1024];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) all.append(buf, static_cast<size_t>(n));
  close(fd);
  EXPECT_THAT(all, ::testing::Not(HasSubstr("up 1")));
  EXPECT_FALSE(absl::StartsWith(all, "HTTP/1.1 200"));
}

// The filter may wait for the API server; it must not hold up other requests.
TEST_F(SecureMetricsTest, ASlowReviewDoesNotBlockOtherRequests) {
  authn_.block_on = "slow-token";
  auto s = Start();
  TlsResponse slow;
  std::thread t([&] { slow = TlsRequest(s->port(), "GET", "/metrics", "Bearer slow-token"); });
  {
    std::unique_lock<std::mutex> l(authn_.mu);
    ASSERT_TRUE(authn_.cv.wait_for(l, std::chrono::seconds(10), [&] { return authn_.blocked; }));
  }
  const absl::Time start = absl::Now();
  EXPECT_EQ(TlsRequest(s->port(), "GET", "/metrics", "Bearer reader-token").code, 200);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  {
    std::lock_guard<std::mutex> l(authn_.mu);
    authn_.released = true;
  }
  authn_.cv.notify_all();
  t.join();
  EXPECT_EQ(slow.code, 200);
}

// A request whose review may still be running when the server stops: Stop
// returns once it is done (or dropped), and nothing outlives the server
// (ASan would see a session used after its io_context went).
TEST_F(SecureMetricsTest, StopWhileAReviewRuns) {
  authn_.block_on = "slow-token";
  auto s = Start();
  std::thread t([&] { (void)TlsRequest(s->port(), "GET", "/metrics", "Bearer slow-token"); });
  {
    std::unique_lock<std::mutex> l(authn_.mu);
    ASSERT_TRUE(authn_.cv.wait_for(l, std::chrono::seconds(10), [&] { return authn_.blocked; }));
  }
  // Released from another thread: Stop waits for the review it cannot cancel.
  std::thread release([&] {
    std::lock_guard<std::mutex> l(authn_.mu);
    authn_.released = true;
    authn_.cv.notify_all();
  });
  s->Stop();
  release.join();
  t.join();
  s.reset();
}

std::string WriteFile(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
  return path;
}

TEST(HttpsTest, CertificateFromFilesIsVerifiedAndReloadedWhenRenewed) {
  char dir_template[] = "/tmp/https-test-XXXXXX";
  const std::string dir = mkdtemp(dir_template);
  auto a = SelfSignedCertificate({"localhost", "127.0.0.1"});
  auto b = SelfSignedCertificate({"localhost", "127.0.0.1"});
  ASSERT_TRUE(a.ok() && b.ok());
  HttpsOptions https;
  https.cert_file = WriteFile(dir + "/tls.crt", a->cert);
  https.key_file = WriteFile(dir + "/tls.key", a->key);
  https.reload_interval = absl::ZeroDuration();
  HttpServerOptions o;
  o.https = https;
  HttpServer s("127.0.0.1:0", o);
  s.Handle("/metrics", [] { return HttpReply{200, "text/plain", "up 1\n"}; });
  ASSERT_TRUE(s.Start().ok());
  // No filter: plain HTTPS (the probes' server never has one, but the server allows it).
  EXPECT_EQ(TlsRequest(s.port(), "GET", "/metrics", "", a->cert).code, 200);
  EXPECT_FALSE(TlsRequest(s.port(), "GET", "/metrics", "", b->cert).handshake);
  EXPECT_FALSE(TlsRequest(s.port(), "GET", "/metrics", "", a->cert, "other.example").handshake);
  // cert-manager renews in place: the next connection gets the new one.
  WriteFile(https.key_file, b->key);
  WriteFile(https.cert_file, b->cert);
  EXPECT_TRUE(TlsRequest(s.port(), "GET", "/metrics", "", b->cert).handshake);
  EXPECT_FALSE(TlsRequest(s.port(), "GET", "/metrics", "", a->cert).handshake);
  // A half-written pair (key without its certificate) keeps the last good one.
  WriteFile(https.key_file, a->key);
  EXPECT_TRUE(TlsRequest(s.port(), "GET", "/metrics", "", b->cert).handshake);
  s.Stop();
  std::remove(https.cert_file.c_str());
  std::remove(https.key_file.c_str());
  rmdir(dir.c_str());
}

// Connections that never start their handshake are idle ones: at the limit
// the oldest makes room, and a scraper still gets in.
TEST(HttpsTest, SilentConnectionsDoNotKeepAScraperOut) {
  HttpServerOptions o;
  o.https = HttpsOptions{};
  o.max_connections = 3;
  HttpServer s("127.0.0.1:0", o);
  s.Handle("/metrics", [] { return HttpReply{200, "text/plain", "up 1\n"}; });
  ASSERT_TRUE(s.Start().ok());
  std::vector<int> silent;
  for (int i = 0; i < 3; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(s.port()));
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    silent.push_back(fd);
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (s.OpenConnections() < i + 1 && absl::Now() < deadline)
      absl::SleepFor(absl::Milliseconds(1));
    ASSERT_EQ(s.OpenConnections(), i + 1);
  }
  const absl::Time start = absl::Now();
  EXPECT_EQ(TlsRequest(s.port(), "GET", "/metrics", "").code, 200);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  for (int fd : silent) close(fd);
}

TEST(HttpsTest, BadCertificateFilesStopTheStart) {
  HttpServerOptions o;
  o.https = HttpsOptions{.cert_file = "/nonexistent/tls.crt", .key_file = "/nonexistent/tls.key"};
  HttpServer s("127.0.0.1:0", o);
  absl::Status st = s.Start();
  EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("/nonexistent/tls.crt"));
  // A key that is not the certificate's.
  char dir_template[] = "/tmp/https-test-XXXXXX";
  const std::string dir = mkdtemp(dir_template);
  auto a = SelfSignedCertificate({"localhost"});
  auto b = SelfSignedCertificate({"localhost"});
  ASSERT_TRUE(a.ok() && b.ok());
  o.https = HttpsOptions{.cert_file = WriteFile(dir + "/tls.crt", a->cert),
                         .key_file = WriteFile(dir + "/tls.key", b->key)};
  HttpServer mismatched("127.0.0.1:0", o);
  st = mismatched.Start();
  EXPECT_THAT(std::string(st.message()), HasSubstr("does not match"));
  std::remove((dir + "/tls.crt").c_str());
  std::remove((dir + "/tls.key").c_str());
  rmdir(dir.c_str());
}

TEST(HttpsTest, SelfSignedCertificateNamesItsHosts) {
  auto pem = SelfSignedCertificate({"localhost", "127.0.0.1", "::1", "pod-a"});
  ASSERT_TRUE(pem.ok()) << pem.status();
  BIO* bio = BIO_new_mem_buf(pem->cert.data(), static_cast<int>(pem->cert.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(X509_check_host(cert, "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(cert, "pod-a", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(cert, "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert, "::1", 0), 1);
  EXPECT_NE(X509_check_host(cert, "example.com", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_purpose(cert, X509_PURPOSE_SSL_SERVER, 0), 1);
  X509_free(cert);
  EXPECT_THAT(pem->key, HasSubstr("PRIVATE KEY"));
}

TEST(AuthCacheTest, AuthenticationsAreCachedForTheirTtl) {
  testing_support::FakeClock clock;
  FakeAuthenticator inner;
  inner.users = {{"good", "alice"}};
  CachingAuthenticator cache(
      &inner, {.allowed_ttl = absl::Minutes(1), .denied_ttl = absl::Seconds(10), .clock = &clock});
  for (int i = 0; i < 3; ++i) {
    auto u = cache.Authenticate("good");
    ASSERT_TRUE(u.ok() && u->has_value());
    EXPECT_EQ((*u)->username, "alice");
  }
  EXPECT_EQ(inner.calls, 1);
  clock.SleepFor(absl::Seconds(59));
  ASSERT_TRUE(cache.Authenticate("good").ok());
  EXPECT_EQ(inner.calls, 1);
  clock.SleepFor(absl::Seconds(2));
  ASSERT_TRUE(cache.Authenticate("good").ok());
  EXPECT_EQ(inner.calls, 2);
  // A rejected token is remembered for the shorter TTL.
  EXPECT_FALSE(cache.Authenticate("bad")->has_value());
  EXPECT_FALSE(cache.Authenticate("bad")->has_value());
  EXPECT_EQ(inner.calls, 3);
  clock.SleepFor(absl::Seconds(11));
  EXPECT_FALSE(cache.Authenticate("bad")->has_value());
  EXPECT_EQ(inner.calls, 4);
  // Failures are not cached: the next request asks again.
  EXPECT_FALSE(cache.Authenticate("error").ok());
  EXPECT_FALSE(cache.Authenticate("error").ok());
  EXPECT_EQ(inner.calls, 6);
  EXPECT_EQ(cache.misses(), 6);
}

TEST(AuthCacheTest, AuthorizationsAreCachedPerUserVerbAndPath) {
  testing_support::FakeClock clock;
  FakeAuthorizer inner;
  inner.allowed = {"alice"};
  CachingAuthorizer cache(&inner, {.clock = &clock});
  const UserInfo alice{"alice", "1", {"g"}, {}};
  const UserInfo bob{"bob", "2", {"g"}, {}};
  EXPECT_TRUE(*cache.Authorize(alice, "get", "/metrics"));
  EXPECT_TRUE(*cache.Authorize(alice, "get", "/metrics"));
  EXPECT_FALSE(*cache.Authorize(bob, "get", "/metrics"));
  EXPECT_FALSE(*cache.Authorize(bob, "get", "/metrics"));
  EXPECT_FALSE(*cache.Authorize(alice, "get", "/other"));
  // The same name in other groups is another subject.
  EXPECT_TRUE(*cache.Authorize(UserInfo{"alice", "1", {"g", "h"}, {}}, "get", "/metrics"));
  EXPECT_EQ(inner.calls, 4);
  // A denial is asked again after 10 s (a new binding takes effect soon).
  inner.allowed.insert("bob");
  clock.SleepFor(absl::Seconds(11));
  EXPECT_TRUE(*cache.Authorize(bob, "get", "/metrics"));
  // A grant after a minute (a removed binding takes effect within it).
  inner.allowed.clear();
  EXPECT_TRUE(*cache.Authorize(alice, "get", "/metrics"));
  clock.SleepFor(absl::Seconds(50));
  EXPECT_FALSE(*cache.Authorize(alice, "get", "/metrics"));
}

TEST(AuthCacheTest, TheCacheIsBoundedLeastRecentlyUsedFirst) {
  testing_support::FakeClock clock;
  FakeAuthenticator inner;
  for (int i = 0; i < 10; ++i) inner.users[absl::StrCat("t", i)] = absl::StrCat("u", i);
  CachingAuthenticator cache(&inner, {.max_entries = 3, .clock = &clock});
  ASSERT_TRUE(cache.Authenticate("t0").ok());
  ASSERT_TRUE(cache.Authenticate("t1").ok());
  ASSERT_TRUE(cache.Authenticate("t2").ok());
  ASSERT_TRUE(cache.Authenticate("t0").ok());  // t0 used again: t1 is now the oldest
  ASSERT_TRUE(cache.Authenticate("t3").ok());  // evicts t1
  EXPECT_EQ(inner.calls, 4);
  ASSERT_TRUE(cache.Authenticate("t0").ok());
  ASSERT_TRUE(cache.Authenticate("t2").ok());
  EXPECT_EQ(inner.calls, 4);
  ASSERT_TRUE(cache.Authenticate("t1").ok());
  EXPECT_EQ(inner.calls, 5);
  // Invented tokens cost a review each, not memory.
  for (int i = 0; i < 1000; ++i) (void)cache.Authenticate(absl::StrCat("invented-", i));
  DecisionCache<bool> bounded(3);
  for (int i = 0; i < 100; ++i) bounded.Put(absl::StrCat(i), true, absl::InfiniteFuture());
  EXPECT_EQ(bounded.size(), 3u);
}

// Figures for docs/development.md: a cached request's cost over TLS.
TEST_F(SecureMetricsTest, CachedRequestLatency) {
  CachingAuthenticator authn(&authn_);
  CachingAuthorizer authz(&authz_);
  HttpServerOptions o;
  o.https = HttpsOptions{};
  o.filter = AuthFilter(&authn, &authz);
  HttpServer s("127.0.0.1:0", o);
  s.Handle("/metrics", [] { return HttpReply{200, "text/plain", "up 1\n"}; });
  ASSERT_TRUE(s.Start().ok());
  ASSERT_EQ(TlsRequest(s.port(), "GET", "/metrics", "Bearer reader-token").code, 200);
  const int n = 50;
  const absl::Time start = absl::Now();
  for (int i = 0; i < n; ++i)
    ASSERT_EQ(TlsRequest(s.port(), "GET", "/metrics", "Bearer reader-token").code, 200);
  const absl::Duration each = (absl::Now() - start) / n;
  EXPECT_EQ(authn_.calls, 1);
  EXPECT_EQ(authz_.calls, 1);
  std::printf("cached HTTPS request (new connection, handshake, auth from cache): %.2f ms\n",
              absl::ToDoubleMilliseconds(each));
}

// The TokenReview on the wire, through a kube::Client on a mock transport.
class TokenReviewTest : public ::testing::Test {
 protected:
  TokenReviewTest() {
    auto t = std::make_unique<testing_support::MockTransport>();
    transport_ = t.get();
    client_ = std::make_unique<kube::Client>(std::move(t), kube::ClientOptions{.max_attempts = 1});
  }
  // Answers the next review with `status` and keeps the body it was sent.
  void Answer(const std::string& status) {
    EXPECT_CALL(*transport_, Send(::testing::Field(&kube::HttpRequest::path,
                                                   "/apis/authentication.k8s.io/v1/tokenreviews")))
        .WillOnce([this, status](const kube::HttpRequest& r) {
          sent_ = r.body;
          return testing_support::Json(
              201, R"({"kind":"TokenReview","apiVersion":"authentication.k8s.io/v1","status":)" +
                       status + "}");
        });
  }
  kube::Object Sent() const {
    auto o = kube::Object::Parse(sent_);
    EXPECT_TRUE(o.ok()) << sent_;
    return o.ok() ? *o : kube::Object();
  }
  testing_support::MockTransport* transport_;
  std::unique_ptr<kube::Client> client_;
  std::string sent_;
};

TEST_F(TokenReviewTest, WithoutAnAudienceTheReviewAsksForTheApiServersOwn) {
  TokenReviewAuthenticator authn(client_.get());
  Answer(R"({"authenticated":true,"user":{"username":"u","groups":["g"]},)"
         R"("audiences":["https://kubernetes.default.svc"]})");
  auto user = authn.Authenticate("tok");
  ASSERT_TRUE(user.ok()) << user.status();
  ASSERT_TRUE(user->has_value());
  EXPECT_EQ((*user)->username, "u");
  const kube::Object sent = Sent();
  EXPECT_EQ(sent.Str({"spec", "token"}), "tok");
  EXPECT_EQ(sent.Find({"spec", "audiences"}), nullptr) << sent_;
}

TEST_F(TokenReviewTest, TheReviewCarriesTheConfiguredAudiences) {
  TokenReviewAuthenticator authn(client_.get(), {"kube-operator-metrics", "prometheus"});
  Answer(R"({"authenticated":true,"user":{"username":"u"},"audiences":["prometheus"]})");
  auto user = authn.Authenticate("tok");
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_TRUE(user->has_value());
  const kube::Object sent = Sent();
  const rapidjson::Value* audiences = sent.Find({"spec", "audiences"});
  ASSERT_NE(audiences, nullptr) << sent_;
  ASSERT_TRUE(audiences->IsArray());
  ASSERT_EQ(audiences->Size(), 2u);
  EXPECT_STREQ((*audiences)[0].GetString(), "kube-operator-metrics");
  EXPECT_STREQ((*audiences)[1].GetString(), "prometheus");
}

TEST_F(TokenReviewTest, AnAnswerNamingNoneOfTheAudiencesIsRefused) {
  // A token minted for another audience: the API server says unauthenticated.
  TokenReviewAuthenticator authn(client_.get(), {"kube-operator-metrics"});
  Answer(R"({"authenticated":false,"error":"token audiences [\"api\"] is invalid"})");
  auto refused = authn.Authenticate("tok");
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_FALSE(refused->has_value());
  // An API server that ignored spec.audiences (authenticated, but no audience
  // of ours in status.audiences) is not believed.
  Answer(R"({"authenticated":true,"user":{"username":"u"},"audiences":["api"]})");
  auto ignored = authn.Authenticate("tok");
  ASSERT_TRUE(ignored.ok()) << ignored.status();
  EXPECT_FALSE(ignored->has_value());
  Answer(R"({"authenticated":true,"user":{"username":"u"}})");
  auto none = authn.Authenticate("tok");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());
}

}  // namespace
}  // namespace ops
