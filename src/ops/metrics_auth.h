// Who may read /metrics: kubebuilder's default for a secure metrics endpoint
// (controller-runtime's filters.WithAuthenticationAndAuthorization). The
// bearer token is authenticated with a TokenReview, then the user is
// authorized with a SubjectAccessReview for the non-resource URL and the
// request's verb (`get` on /metrics, which the chart's metrics-reader
// ClusterRole grants). Decisions are cached for a short time, so a scrape
// every 30 s costs no API request while the cache holds the answer.
//
// The interfaces let tests use a fake; the real ones ask the API server
// through a kube::Client (which must have no write fence: a standby serves
// metrics too, and a TokenReview is a POST).
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "kube/client.h"
#include "ops/http_server.h"
#include "util/clock.h"

namespace ops {

// authentication.k8s.io/v1 UserInfo.
struct UserInfo {
  std::string username;
  std::string uid;
  std::vector<std::string> groups;
  std::map<std::string, std::vector<std::string>> extra;
};

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // The user the token belongs to; nullopt when it is not valid (401). An
  // error: the answer could not be had (the API server is unreachable: 500).
  // Called from any thread.
  virtual absl::StatusOr<std::optional<UserInfo>> Authenticate(absl::string_view token) = 0;
};

class Authorizer {
 public:
  virtual ~Authorizer() = default;
  // Whether `user` may `verb` (lower case: get) the non-resource `path`. An
  // error: the answer could not be had (500). Called from any thread.
  virtual absl::StatusOr<bool> Authorize(const UserInfo& user, absl::string_view verb,
                                         absl::string_view path) = 0;
};

// TokenReview (authentication.k8s.io/v1) through `client`. With no
// audiences, the API server's own (a token minted for the API server is
// accepted); with some (--metrics-token-audience), they go in spec.audiences
// and only a token minted for one of them is accepted, so that a token stolen
// from a workload that talks to the API server does not read metrics. The
// answer must name one of them in status.audiences: an API server that
// ignored the field would otherwise accept any token.
class TokenReviewAuthenticator final : public Authenticator {
 public:
  explicit TokenReviewAuthenticator(kube::Client* client, std::vector<std::string> audiences = {})
      : client_(client), audiences_(std::move(audiences)) {}
  absl::StatusOr<std::optional<UserInfo>> Authenticate(absl::string_view token) override;

 private:
  kube::Client* const client_;
  const std::vector<std::string> audiences_;
};

// SubjectAccessReview (authorization.k8s.io/v1) with nonResourceAttributes.
class SubjectAccessReviewAuthorizer final : public Authorizer {
 public:
  explicit SubjectAccessReviewAuthorizer(kube::Client* client) : client_(client) {}
  absl::StatusOr<bool> Authorize(const UserInfo& user, absl::string_view verb,
                                 absl::string_view path) override;

 private:
  kube::Client* const client_;
};

struct AuthCacheOptions {
  // How long an answer is reused: a granted one for a minute (a revoked
  // binding takes effect within it), a refusal for less, so that a token
  // just bound to the role works soon. Errors are never cached.
  absl::Duration allowed_ttl = absl::Minutes(1);
  absl::Duration denied_ttl = absl::Seconds(10);
  // Entries at most; past it the least recently used goes. A stream of
  // invented tokens therefore costs a TokenReview each, not memory.
  size_t max_entries = 1024;
  const util::Clock* clock = nullptr;  // null: the wall clock
};

// A bounded map from a key to a decision, each with an expiry; least recently
// used first out. Thread-safe.
template <typename V>
class DecisionCache {
 public:
  explicit DecisionCache(size_t max_entries) : max_(max_entries) {}
  std::optional<V> Get(const std::string& key, absl::Time now);
  void Put(const std::string& key, V value, absl::Time expires);
  size_t size() const;

 private:
  struct Entry {
    std::string key;
    V value;
    absl::Time expires;
  };
  const size_t max_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // most recently used first
  absl::flat_hash_map<std::string, typename std::list<Entry>::iterator> index_;
};

// Authenticator with a cache in front. Tokens are kept as their SHA-256 only.
class CachingAuthenticator final : public Authenticator {
 public:
  CachingAuthenticator(Authenticator* inner, AuthCacheOptions options = {});
  absl::StatusOr<std::optional<UserInfo>> Authenticate(absl::string_view token) override;
  int64_t misses() const;  // calls that reached the inner authenticator

 private:
  Authenticator* const inner_;
  const AuthCacheOptions options_;
  util::RealClock real_clock_;
  const util::Clock* const clock_;
  DecisionCache<std::optional<UserInfo>> cache_;
  mutable std::mutex mu_;
  int64_t misses_ = 0;
};

// Authorizer with a cache in front, keyed by the whole user, verb and path.
class CachingAuthorizer final : public Authorizer {
 public:
  CachingAuthorizer(Authorizer* inner, AuthCacheOptions options = {});
  absl::StatusOr<bool> Authorize(const UserInfo& user, absl::string_view verb,
                                 absl::string_view path) override;
  int64_t misses() const;

 private:
  Authorizer* const inner_;
  const AuthCacheOptions options_;
  util::RealClock real_clock_;
  const util::Clock* const clock_;
  DecisionCache<bool> cache_;
  mutable std::mutex mu_;
  int64_t misses_ = 0;
};

// The HttpServer filter: no bearer token, or one the authenticator rejects:
// 401; the authorizer denies: 403; either cannot answer: 500 (logged, without
// the token). HEAD is authorized as get (the API server's own mapping).
RequestFilter AuthFilter(Authenticator* authn, Authorizer* authz);

}  // namespace ops
