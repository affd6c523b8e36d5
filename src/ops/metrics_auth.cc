#include "ops/metrics_auth.h"

#include <openssl/sha.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "kube/json_builder.h"
#include "util/log.h"

namespace ops {
namespace {

constexpr absl::string_view kLogger = "metrics-auth";
constexpr kube::Resource kTokenReviews{"authentication.k8s.io", "v1", "tokenreviews", false};
constexpr kube::Resource kSubjectAccessReviews{"authorization.k8s.io", "v1", "subjectaccessreviews",
                                               false};

bool BoolAt(const kube::Object& o, std::initializer_list<absl::string_view> path) {
  const rapidjson::Value* v = o.Find(path);
  return v && v->IsBool() && v->GetBool();
}

std::vector<std::string> StringsOf(const rapidjson::Value* v) {
  std::vector<std::string> out;
  if (!v || !v->IsArray()) return out;
  for (const auto& item : v->GetArray())
    if (item.IsString()) out.emplace_back(item.GetString(), item.GetStringLength());
  return out;
}

std::string Sha256(absl::string_view s) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

// Every field of the user, unambiguously (lengths before contents).
std::string UserKey(const UserInfo& u, absl::string_view verb, absl::string_view path) {
  std::string key;
  auto add = [&key](absl::string_view s) { absl::StrAppend(&key, s.size(), ":", s, ";"); };
  add(u.username);
  add(u.uid);
  absl::StrAppend(&key, u.groups.size(), "g;");
  for (const auto& g : u.groups) add(g);
  absl::StrAppend(&key, u.extra.size(), "x;");
  for (const auto& [k, vs] : u.extra) {
    add(k);
    absl::StrAppend(&key, vs.size(), "v;");
    for (const auto& v : vs) add(v);
  }
  add(verb);
  add(path);
  return key;
}

}  // namespace

absl::StatusOr<std::optional<UserInfo>> TokenReviewAuthenticator::Authenticate(
    absl::string_view token) {
  kube::J spec = kube::J::Obj({{"token", std::string(token)}});
  if (!audiences_.empty()) spec.Set("audiences", kube::J::Strings(audiences_));
  const std::string body = kube::J::Obj({{"apiVersion", "authentication.k8s.io/v1"},
                                         {"kind", "TokenReview"},
                                         {"spec", std::move(spec)}})
                               .Serialize();
  auto review = client_->Create(kTokenReviews, "", body);
  // The error text names the resource and the code, never the body (which holds the token).
  if (!review.ok()) return review.status();
  if (!BoolAt(*review, {"status", "authenticated"})) return std::nullopt;
  if (!audiences_.empty()) {
    const std::vector<std::string> granted = StringsOf(review->Find({"status", "audiences"}));
    if (std::none_of(granted.begin(), granted.end(), [this](const std::string& a) {
          return std::find(audiences_.begin(), audiences_.end(), a) != audiences_.end();
        }))
      return std::nullopt;
  }
  UserInfo user;
  user.username = std::string(review->Str({"status", "user", "username"}));
  user.uid = std::string(review->Str({"status", "user", "uid"}));
  user.groups = StringsOf(review->Find({"status", "user", "groups"}));
  if (const rapidjson::Value* extra = review->Find({"status", "user", "extra"});
      extra && extra->IsObject())
    for (const auto& m : extra->GetObject())
      user.extra[std::string(m.name.GetString(), m.name.GetStringLength())] = StringsOf(&m.value);
  return user;
}

absl::StatusOr<bool> SubjectAccessReviewAuthorizer::Authorize(const UserInfo& user,
                                                              absl::string_view verb,
                                                              absl::string_view path) {
  kube::J spec =
      kube::J::Obj({{"user", user.username},
                    {"uid", user.uid},
                    {"groups", kube::J::Strings(user.groups)},
                    {"nonResourceAttributes", kube::J::Obj({{"path", path}, {"verb", verb}})}});
  if (!user.extra.empty()) {
    kube::J extra = kube::J::Obj({});
    for (const auto& [k, vs] : user.extra) extra.Set(k, kube::J::Strings(vs));
    spec.Set("extra", std::move(extra));
  }
  const std::string body = kube::J::Obj({{"apiVersion", "authorization.k8s.io/v1"},
                                         {"kind", "SubjectAccessReview"},
                                         {"spec", std::move(spec)}})
                               .Serialize();
  auto review = client_->Create(kSubjectAccessReviews, "", body);
  if (!review.ok()) return review.status();
  return BoolAt(*review, {"status", "allowed"}) && !BoolAt(*review, {"status", "denied"});
}

template <typename V>
std::optional<V> DecisionCache<V>::Get(const std::string& key, absl::Time now) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = index_.find(key);
  if (it == index_.end()) return std::nullopt;
  if (it->second->expires <= now) {
    lru_.erase(it->second);
    index_.erase(it);
    return std::nullopt;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->value;
}

template <typename V>
void DecisionCache<V>::Put(const std::string& key, V value, absl::Time expires) {
  if (max_ == 0) return;
  std::lock_guard<std::mutex> l(mu_);
  if (auto it = index_.find(key); it != index_.end()) {
    lru_.erase(it->second);
    index_.erase(it);
  }
  while (lru_.size() >= max_) {
    index_.erase(lru_.back().key);
    lru_.pop_back();
  }
  lru_.push_front(Entry{key, std::move(value), expires});
  index_[key] = lru_.begin();
}

template <typename V>
size_t DecisionCache<V>::size() const {
  std::lock_guard<std::mutex> l(mu_);
  return lru_.size();
}

template class DecisionCache<bool>;
template class DecisionCache<std::optional<UserInfo>>;

CachingAuthenticator::CachingAuthenticator(Authenticator* inner, AuthCacheOptions options)
    : inner_(inner),
      options_(options),
      clock_(options.clock ? options.clock : &real_clock_),
      cache_(options.max_entries) {}

absl::StatusOr<std::optional<UserInfo>> CachingAuthenticator::Authenticate(
    absl::string_view token) {
  const std::string key = Sha256(token);
  if (auto hit = cache_.Get(key, clock_->Now())) return *hit;
  {
    std::lock_guard<std::mutex> l(mu_);
    ++misses_;
  }
  auto user = inner_->Authenticate(token);
  if (!user.ok()) return user.status();
  cache_.Put(key, *user,
             clock_->Now() + (user->has_value() ? options_.allowed_ttl : options_.denied_ttl));
  return user;
}

int64_t CachingAuthenticator::misses() const {
  std::lock_guard<std::mutex> l(mu_);
  return misses_;
}

CachingAuthorizer::CachingAuthorizer(Authorizer* inner, AuthCacheOptions options)
    : inner_(inner),
      options_(options),
      clock_(options.clock ? options.clock : &real_clock_),
      cache_(options.max_entries) {}

absl::StatusOr<bool> CachingAuthorizer::Authorize(const UserInfo& user, absl::string_view verb,
                                                  absl::string_view path) {
  const std::string key = UserKey(user, verb, path);
  if (auto hit = cache_.Get(key, clock_->Now())) return *hit;
  {
    std::lock_guard<std::mutex> l(mu_);
    ++misses_;
  }
  auto allowed = inner_->Authorize(user, verb, path);
  if (!allowed.ok()) return allowed.status();
  cache_.Put(key, *allowed,
             clock_->Now() + (*allowed ? options_.allowed_ttl : options_.denied_ttl));
  return allowed;
}

int64_t CachingAuthorizer::misses() const {
  std::lock_guard<std::mutex> l(mu_);
  return misses_;
}

RequestFilter AuthFilter(Authenticator* authn, Authorizer* authz) {
  return [authn, authz](const HttpRequest& req) -> std::optional<HttpReply> {
    absl::string_view header = absl::StripAsciiWhitespace(req.authorization);
    // The scheme is case-insensitive (RFC 9110); the token is what follows it.
    if (header.size() < 7 || !absl::EqualsIgnoreCase(header.substr(0, 7), "Bearer "))
      return HttpReply{401, "text/plain; charset=utf-8", "Unauthorized: no bearer token\n"};
    const absl::string_view token = absl::StripLeadingAsciiWhitespace(header.substr(7));
    if (token.empty())
      return HttpReply{401, "text/plain; charset=utf-8", "Unauthorized: no bearer token\n"};
    auto user = authn->Authenticate(token);
    if (!user.ok()) {
      util::Log(util::LogLevel::kError, kLogger, "token review failed",
                {{"path", req.path}, {"error", std::string(user.status().message())}});
      return HttpReply{500, "text/plain; charset=utf-8", "Authentication failed\n"};
    }
    if (!user->has_value())
      return HttpReply{401, "text/plain; charset=utf-8", "Unauthorized: invalid token\n"};
    const std::string verb = req.method == "HEAD" ? "get" : absl::AsciiStrToLower(req.method);
    auto allowed = authz->Authorize(**user, verb, req.path);
    if (!allowed.ok()) {
      util::Log(util::LogLevel::kError, kLogger, "subject access review failed",
                {{"user", (*user)->username},
                 {"path", req.path},
                 {"error", std::string(allowed.status().message())}});
      return HttpReply{500, "text/plain; charset=utf-8", "Authorization failed\n"};
    }
    if (!*allowed)
      return HttpReply{403, "text/plain; charset=utf-8",
                       absl::StrCat("Forbidden: user \"", (*user)->username, "\" may not ", verb,
                                    " ", req.path, "\n")};
    return std::nullopt;
  };
}

}  // namespace ops
