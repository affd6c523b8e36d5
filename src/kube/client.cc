#include "kube/client.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "kube/api_error.h"
#include "kube/json_parse.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "util/backoff.h"
#include "util/log.h"

namespace kube {
namespace {

bool IsJson(absl::string_view content_type) {
  return content_type.find("json") != absl::string_view::npos;
}

absl::StatusOr<Object> DecodeObject(const HttpResponse& resp) {
  if (!IsJson(resp.content_type))
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected content type '", resp.content_type, "' (want JSON)"));
  return Object::Parse(resp.body);
}

// Appends name=value to a query string when value is set.
void Query(std::string& q, absl::string_view name, absl::string_view value) {
  if (value.empty()) return;
  absl::StrAppend(&q, q.empty() ? "?" : "&", name, "=", QueryEscape(value));
}

constexpr absl::string_view kLogger = "client";

absl::string_view PatchContentType(PatchType t) {
  switch (t) {
    case PatchType::kMerge:
      return "application/merge-patch+json";
    case PatchType::kJson:
      return "application/json-patch+json";
    case PatchType::kStrategicMerge:
      return "application/strategic-merge-patch+json";
    case PatchType::kApply:
      return "application/apply-patch+yaml";  // JSON is YAML
  }
  return "";
}

std::string DeleteBody(const DeleteOptions& o) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("kind"), w.String("DeleteOptions");
  w.Key("apiVersion"), w.String("v1");
  if (!o.propagation_policy.empty())
    w.Key("propagationPolicy"), w.String(o.propagation_policy.c_str());
  if (o.grace_period_seconds) w.Key("gracePeriodSeconds"), w.Int64(*o.grace_period_seconds);
  if (!o.precondition_uid.empty() || !o.precondition_resource_version.empty()) {
    w.Key("preconditions");
    w.StartObject();
    if (!o.precondition_uid.empty()) w.Key("uid"), w.String(o.precondition_uid.c_str());
    if (!o.precondition_resource_version.empty())
      w.Key("resourceVersion"), w.String(o.precondition_resource_version.c_str());
    w.EndObject();
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string TokenRequestBody(const TokenRequestOptions& o) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("apiVersion"), w.String("authentication.k8s.io/v1");
  w.Key("kind"), w.String("TokenRequest");
  w.Key("spec");
  w.StartObject();
  if (o.expiration_seconds > 0) w.Key("expirationSeconds"), w.Int64(o.expiration_seconds);
  if (!o.audiences.empty()) {
    w.Key("audiences");
    w.StartArray();
    for (const std::string& a : o.audiences) w.String(a.data(), a.size());
    w.EndArray();
  }
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace

absl::Status StatusFromObject(const Object& status) {
  const int code = static_cast<int>(status.Int({"code"}));
  std::string body = status.Serialize();
  return ErrorFromResponse(code == 0 ? 500 : code, "application/json", body, "");
}

Client::Client(std::unique_ptr<Transport> transport, ClientOptions options)
    : transport_(std::move(transport)),
      options_(std::move(options)),
      clock_(options_.clock ? options_.clock : &real_clock_),
      limiter_(options_.qps < 0 ? kAutomaticQps : options_.qps, options_.burst, clock_) {}

void Client::Throttle(absl::string_view method) {
  const bool limited = options_.qps > 0 || (options_.qps < 0 && !ServerHasFlowControl());
  absl::Duration wait = absl::ZeroDuration();
  bool paused = false;
  {
    std::lock_guard l(pause_mu_);
    if (pause_until_ != absl::InfinitePast())
      if (const absl::Time now = clock_->Now(); pause_until_ > now)
        wait = pause_until_ - now, paused = true;
  }
  // A token is taken during a pause too: the bucket has refilled by its end.
  if (limited) wait = std::max(wait, limiter_.Reserve());
  if (wait > absl::ZeroDuration()) clock_->SleepFor(wait);
  if ((limited || paused) && options_.observer)
    options_.observer->ObserveRateLimiterWait(method, wait);
}

void Client::PauseFor(absl::Duration d) {
  std::lock_guard l(pause_mu_);
  pause_until_ = std::max(pause_until_, clock_->Now() + d);
}

void Client::NoteFlowControl(const HttpResponse& resp) {
  // A 401 is answered before APF classifies the request: it says nothing.
  if (resp.status == 401) return;
  const bool apf = !resp.flow_schema_uid.empty() || !resp.priority_level_uid.empty();
  if (flow_control_.exchange(apf, std::memory_order_relaxed) == apf || options_.qps >= 0) return;
  if (apf)
    util::Log(util::LogLevel::kInfo, kLogger,
              "the API server announces API Priority and Fairness: no client-side rate limit",
              {{"priority_level_uid", resp.priority_level_uid}});
  else
    util::Log(util::LogLevel::kInfo, kLogger,
              "the API server does not announce API Priority and Fairness: client-side rate "
              "limit",
              {{"qps", kAutomaticQps}, {"burst", options_.burst}});
}

absl::StatusOr<HttpResponse> Client::Do(absl::string_view verb, HttpRequest req, bool idempotent) {
  req.timeout = options_.request_timeout;
  util::Backoff backoff(options_.backoff_initial, options_.backoff_cap);
  bool reauthenticated = false;
  for (int attempt = 1;; ++attempt) {
    Throttle(req.method);
    if (options_.fence && req.method != "GET")
      if (absl::Status s = options_.fence->AllowWrite(); !s.ok()) return s;
    const absl::Time start = clock_->Now();
    absl::StatusOr<HttpResponse> resp = transport_->Send(req);
    if (resp.ok()) NoteFlowControl(*resp);
    absl::Status err;
    if (!resp.ok()) {
      err = resp.status();
    } else if (resp->status >= 200 && resp->status <= 299) {
      if (options_.observer)
        options_.observer->Observe(verb, req.method, absl::StrCat(resp->status),
                                   clock_->Now() - start);
      return resp;
    } else {
      err = ErrorFromResponse(resp->status, resp->content_type, resp->body, resp->retry_after);
    }
    if (options_.observer)
      options_.observer->Observe(verb, req.method,
                                 resp.ok() ? absl::StrCat(resp->status) : "<error>",
                                 clock_->Now() - start);
    // A rotated token: read it again once, then try again.
    if (apierrors::IsUnauthorized(err) && options_.token && !reauthenticated) {
      options_.token->Invalidate();
      reauthenticated = true;
      continue;
    }
    // A 429, or a 5xx with Retry-After (the API server "is starting", or
    // shed the request), was not processed, so even a create may be sent
    // again: client-go's checkWait does the same for every verb.
    const absl::Duration retry_after = apierrors::RetryAfter(err);
    const bool asked_to_wait =
        apierrors::IsTooManyRequests(err) ||
        (retry_after > absl::ZeroDuration() && GetApiError(err) && GetApiError(err)->code >= 500);
    const bool not_processed = asked_to_wait || apierrors::WasNotSent(err);
    const bool retry = apierrors::IsRetryable(err) && (idempotent || not_processed);
    absl::Duration wait = backoff.Next();
    if (retry_after > absl::ZeroDuration()) wait = retry_after;
    // The server asked for a pause: every request of this client takes it
    // (with no client-side limit, the others would keep coming), this one at
    // its next Throttle.
    if (asked_to_wait) PauseFor(wait);
    if (!retry || attempt >= options_.max_attempts) return err;
    if (!asked_to_wait) clock_->SleepFor(wait);
  }
}

absl::StatusOr<Object> Client::Get(const Resource& r, absl::string_view ns, absl::string_view name,
                                   absl::string_view subresource) {
  auto resp = Do("GET", {.method = "GET", .path = r.Path(ns, name, subresource)}, true);
  if (!resp.ok()) return resp.status();
  return DecodeObject(*resp);
}

absl::StatusOr<ListResult> Client::List(const Resource& r, absl::string_view ns,
                                        const ListOptions& o) {
  std::string q;
  Query(q, "labelSelector", o.label_selector);
  Query(q, "fieldSelector", o.field_selector);
  if (o.limit > 0) Query(q, "limit", absl::StrCat(o.limit));
  Query(q, "continue", o.continue_token);
  Query(q, "resourceVersion", o.resource_version);
  Query(q, "resourceVersionMatch", o.resource_version_match);
  auto resp = Do("LIST", {.method = "GET", .path = r.Path(ns) + q}, true);
  if (!resp.ok()) return resp.status();
  if (!IsJson(resp->content_type))
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected content type '", resp->content_type, "' (want JSON)"));
  rapidjson::Document doc;
  rapidjson::ParseResult parsed = ParseJson(doc, resp->body, o.slim);
  if (parsed.IsError() || !doc.IsObject())
    return absl::InvalidArgumentError(
        absl::StrCat("list ", r.plural, ": invalid JSON at offset ", parsed.Offset()));
  ListResult out;
  const rapidjson::Value* meta = Member(doc, "metadata");
  if (meta) {
    out.resource_version = std::string(StrOf(Member(*meta, "resourceVersion")));
    out.continue_token = std::string(StrOf(Member(*meta, "continue")));
  }
  const rapidjson::Value* items = Member(doc, "items");
  if (!items || !(items->IsArray() || items->IsNull()))
    return absl::InvalidArgumentError(absl::StrCat("list ", r.plural, ": no items array"));
  if (items->IsNull()) return out;
  // Items of a list carry no kind/apiVersion; fill them in as client-go does.
  absl::string_view list_kind = StrOf(Member(doc, "kind"));
  std::string kind(list_kind);
  if (absl::EndsWith(kind, "List")) kind.resize(kind.size() - 4);
  absl::string_view api_version = StrOf(Member(doc, "apiVersion"));
  const size_t hint = items->Size() ? resp->body.size() / items->Size() : 0;
  out.items.reserve(items->Size());
  for (auto& item : items->GetArray()) {
    if (!item.IsObject())
      return absl::InvalidArgumentError(absl::StrCat("list ", r.plural, ": item is not an object"));
    auto copy = Object::NewDocument(hint + hint / 2);
    copy->CopyFrom(item, copy->GetAllocator());
    if (!copy->HasMember("kind") && !kind.empty())
      copy->AddMember("kind", rapidjson::Value(kind.c_str(), copy->GetAllocator()),
                      copy->GetAllocator());
    if (!copy->HasMember("apiVersion") && !api_version.empty())
      copy->AddMember(
          "apiVersion",
          rapidjson::Value(api_version.data(), api_version.size(), copy->GetAllocator()),
          copy->GetAllocator());
    out.items.push_back(Object::Adopt(std::move(copy)));
  }
  return out;
}

absl::StatusOr<Object> Client::Create(const Resource& r, absl::string_view ns,
                                      absl::string_view json) {
  auto resp = Do("POST",
                 {.method = "POST",
                  .path = r.Path(ns),
                  .body = std::string(json),
                  .content_type = "application/json"},
                 false);
  if (!resp.ok()) return resp.status();
  return DecodeObject(*resp);
}

absl::StatusOr<Object> Client::Update(const Resource& r, absl::string_view ns,
                                      absl::string_view name, absl::string_view json,
                                      absl::string_view subresource) {
  // A PUT carrying a resourceVersion is a compare-and-swap: safe to resend.
  auto resp = Do("PUT",
                 {.method = "PUT",
                  .path = r.Path(ns, name, subresource),
                  .body = std::string(json),
                  .content_type = "application/json"},
                 true);
  if (!resp.ok()) return resp.status();
  return DecodeObject(*resp);
}

absl::StatusOr<Object> Client::Patch(const Resource& r, absl::string_view ns,
                                     absl::string_view name, PatchType type, absl::string_view body,
                                     const PatchOptions& o, absl::string_view subresource) {
  std::string q;
  Query(q, "fieldManager", o.field_manager);
  if (o.force) Query(q, "force", "true");
  if (type == PatchType::kApply && o.field_manager.empty())
    return absl::InvalidArgumentError("server-side apply needs a field manager");
  // Merge and apply patches converge to the same result when resent; a JSON
  // patch may not (an "add" to a list), so it is sent once.
  auto resp = Do("PATCH",
                 {.method = "PATCH",
                  .path = r.Path(ns, name, subresource) + q,
                  .body = std::string(body),
                  .content_type = std::string(PatchContentType(type))},
                 type != PatchType::kJson);
  if (!resp.ok()) return resp.status();
  return DecodeObject(*resp);
}

absl::Status Client::Delete(const Resource& r, absl::string_view ns, absl::string_view name,
                            const DeleteOptions& o) {
  auto resp = Do("DELETE",
                 {.method = "DELETE",
                  .path = r.Path(ns, name),
                  .body = DeleteBody(o),
                  .content_type = "application/json"},
                 true);
  return resp.status();
}

absl::StatusOr<std::string> Client::CreateToken(absl::string_view ns,
                                                absl::string_view service_account,
                                                const TokenRequestOptions& o) {
  // A TokenRequest stores nothing: sent again after a failure, it only mints
  // another token, so it is retried like an idempotent verb.
  auto resp = Do("POST",
                 {.method = "POST",
                  .path = resources::kServiceAccounts.Path(ns, service_account, "token"),
                  .body = TokenRequestBody(o),
                  .content_type = "application/json"},
                 true);
  if (!resp.ok()) return resp.status();
  auto obj = DecodeObject(*resp);
  if (!obj.ok()) return obj.status();
  absl::string_view token = obj->Str({"status", "token"});
  if (token.empty())
    return absl::InternalError(absl::StrCat("token of ServiceAccount ", ns, "/", service_account,
                                            ": the answer has no status.token"));
  return std::string(token);
}

absl::Status Client::Watch(const Resource& r, absl::string_view ns, const WatchOptions& o,
                           util::Cancellation& cancel,
                           absl::FunctionRef<bool(WatchEvent)> on_event) {
  std::string q = "?watch=true";
  Query(q, "labelSelector", o.label_selector);
  Query(q, "fieldSelector", o.field_selector);
  Query(q, "resourceVersion", o.resource_version);
  if (o.allow_bookmarks) Query(q, "allowWatchBookmarks", "true");
  if (o.timeout_seconds > 0) Query(q, "timeoutSeconds", absl::StrCat(o.timeout_seconds));
  Throttle("GET");
  const absl::Time start = clock_->Now();
  WatchDecoder decoder(16 << 20, o.slim);
  absl::Status stream_err;  // a decode error
  absl::Status event_err;   // an ERROR event
  bool stopped = false;
  auto resp = transport_->Stream({.method = "GET", .path = r.Path(ns) + q}, cancel,
                                 [&](absl::string_view chunk) {
                                   stream_err = decoder.Feed(chunk, [&](WatchEvent ev) {
                                     if (ev.type == WatchEvent::Type::kError) {
                                       event_err = StatusFromObject(ev.object);
                                       on_event(std::move(ev));
                                       stopped = true;
                                       return false;
                                     }
                                     if (!on_event(std::move(ev))) stopped = true;
                                     return !stopped;
                                   });
                                   return stream_err.ok() && !stopped;
                                 });
  if (options_.observer)
    options_.observer->Observe("WATCH", "GET", resp.ok() ? absl::StrCat(resp->status) : "<error>",
                               clock_->Now() - start);
  if (!resp.ok()) return resp.status();
  if (resp->status < 200 || resp->status > 299) {
    absl::Status err =
        ErrorFromResponse(resp->status, resp->content_type, resp->body, resp->retry_after);
    if (apierrors::IsUnauthorized(err) && options_.token) options_.token->Invalidate();
    return err;
  }
  if (!stream_err.ok()) return stream_err;
  if (!event_err.ok()) return event_err;
  if (cancel.cancelled()) return absl::CancelledError("watch cancelled");
  if (!stopped && decoder.pending() > 0)
    return absl::DataLossError(absl::StrCat("watch stream ended inside an event (",
                                            decoder.pending(), " bytes of a truncated line)"));
  return absl::OkStatus();
}

}  // namespace kube
