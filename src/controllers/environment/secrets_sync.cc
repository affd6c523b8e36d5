#include "controllers/environment/secrets_sync.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "controllers/environment/web_app.h"
#include "rapidjson/document.h"
#include "util/log.h"

namespace controllers {
namespace {

constexpr absl::string_view kLogger = "secrets";

// A Secret's data key: what the API server accepts (and envFrom can use).
bool ValidKey(absl::string_view k) {
  return !k.empty() && k.size() <= 253 && std::all_of(k.begin(), k.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

bool SameOutcome(const TeamSecrets& a, const TeamSecrets& b) {
  return a.environment_id == b.environment_id && a.synced == b.synced && a.reason == b.reason &&
         a.message == b.message && a.data == b.data;
}

}  // namespace

SecretsSync::SecretsSync(const informer::Store* environments, SecretsSyncOptions options,
                         const util::Clock* clock, std::function<void(const std::string&)> changed)
    : environments_(environments),
      options_(std::move(options)),
      clock_(clock),
      changed_(std::move(changed)) {}

SecretsSync::~SecretsSync() { Stop(); }

void SecretsSync::Start() {
  std::lock_guard<std::mutex> l(mu_);
  if (threaded_) return;
  threaded_ = true;
  threads_.emplace_back([this] { Loop(); });
  for (int i = 0; i < std::max(1, options_.concurrency); ++i)
    threads_.emplace_back([this] { FetchLoop(); });
}

void SecretsSync::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

std::optional<TeamSecrets> SecretsSync::Get(const std::string& key) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = outcomes_.find(key);
  if (it == outcomes_.end()) return std::nullopt;
  return it->second;
}

std::shared_ptr<const kube::CacheMark> SecretsSync::AddMark() const {
  std::lock_guard<std::mutex> l(mu_);
  return add_mark_;
}

void SecretsSync::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    l.unlock();
    RunOnce();
    l.lock();
    cv_.wait_for(l, std::chrono::seconds(1), [this] { return stop_; });
  }
}

void SecretsSync::FetchLoop() {
  std::unique_lock<std::mutex> l(mu_);
  while (true) {
    cv_.wait(l, [this] { return stop_ || !pending_.empty(); });
    if (stop_) return;
    auto [key, id] = std::move(pending_.front());
    pending_.erase(pending_.begin());
    l.unlock();
    Fetch(key, id);
    l.lock();
  }
}

void SecretsSync::Drop(const std::string& key) {
  entries_.erase(key);
  if (auto it = outcomes_.find(key); it != outcomes_.end()) {
    it->second.mark->Set();
    outcomes_.erase(it);
  }
}

void SecretsSync::RunOnce() {
  const absl::Time now = clock_->Now();
  std::vector<std::pair<std::string, std::string>> due;
  std::vector<std::string> dropped;
  {
    std::lock_guard<std::mutex> l(mu_);
    absl::flat_hash_set<std::string> annotated;
    for (const kube::Object& env : environments_->List()) {
      const absl::string_view id = env.Annotation(kEnvironmentIdAnnotation);
      if (id.empty() || env.Deleting()) continue;
      std::string key = env.Key();
      Entry& e = entries_[key];
      if (e.environment_id != id) {  // new, or the web app gave it another id: at once
        if (outcomes_.contains(key)) dropped.push_back(key);
        if (auto it = outcomes_.find(key); it != outcomes_.end()) {
          it->second.mark->Set();
          outcomes_.erase(it);
        }
        e = Entry{.environment_id = std::string(id), .due = now};
      }
      if (!e.in_flight && now >= e.due) {
        e.in_flight = true;
        due.emplace_back(key, e.environment_id);
      }
      annotated.insert(std::move(key));
    }
    std::vector<std::string> gone;
    for (const auto& [key, e] : entries_)
      if (!annotated.contains(key)) gone.push_back(key);
    for (const auto& [key, o] : outcomes_)
      if (!annotated.contains(key)) gone.push_back(key);
    for (const std::string& key : gone) {
      if (outcomes_.contains(key)) dropped.push_back(key);
      Drop(key);
    }
    if (threaded_) pending_.insert(pending_.end(), due.begin(), due.end());
  }
  // Gone or no longer annotated: the planner prunes the Secret.
  for (const std::string& key : dropped) changed_(key);
  if (threaded_) {
    cv_.notify_all();
    return;
  }
  for (const auto& [key, id] : due) Fetch(key, id);
}

void SecretsSync::Fetch(const std::string& key, const std::string& id) {
  const absl::Time start = clock_->Now();
  TeamSecrets outcome =
      Answer(id, options_.web->Send(
                     WebAppGet(options_.web_url, "/api/internal/secrets/", id, options_.timeout)));
  if (options_.observer) options_.observer->SecretsFetched(outcome.reason, clock_->Now() - start);
  if (!outcome.synced)
    util::Log(util::LogLevel::kWarn, kLogger, "secrets not fetched",
              {{"environment", key}, {"reason", outcome.reason}, {"error", outcome.message}});
  Publish(key, std::move(outcome));
}

TeamSecrets SecretsSync::Answer(const std::string& id,
                                const absl::StatusOr<kube::HttpResponse>& r) const {
  TeamSecrets t;
  t.environment_id = id;
  const std::string what = absl::StrCat("GET ", options_.web_url, "/api/internal/secrets/", id);
  if (!r.ok()) {
    t.reason = "WebAppUnreachable";
    t.message = absl::StrCat(what, ": ", r.status().message());
    return t;
  }
  const int code = r->status;
  if (code == 401 || code == 403) {
    t.reason = "Unauthorized";
    t.message = absl::StrCat(what, ": the web app refused the operator's token (HTTP ", code, ")");
    return t;
  }
  if (code == 404) {
    t.reason = "NotFound";
    t.message = absl::StrCat(what, ": the web app knows no such environment (HTTP 404)");
    return t;
  }
  if (code != 200) {
    t.reason = "HTTPError";
    t.message = absl::StrCat(what, ": HTTP ", code);
    return t;
  }
  t.reason = "InvalidAnswer";
  if (r->body.size() > options_.max_body) {
    t.message = absl::StrCat(what, ": the answer is larger than ", options_.max_body, " bytes");
    return t;
  }
  rapidjson::Document doc;
  doc.Parse(r->body.data(), r->body.size());
  const auto secrets =
      doc.IsObject() ? doc.FindMember("secrets") : rapidjson::Value::MemberIterator();
  if (!doc.IsObject() || secrets == doc.MemberEnd() || !secrets->value.IsObject()) {
    t.message = absl::StrCat(what, ": not {\"secrets\": {...}}");
    return t;
  }
  std::vector<std::pair<std::string, std::string>> data;
  for (const auto& m : secrets->value.GetObject()) {
    const absl::string_view k(m.name.GetString(), m.name.GetStringLength());
    if (!ValidKey(k) || !m.value.IsString()) {
      t.message = absl::StrCat(what, ": secret \"", absl::CHexEscape(k.substr(0, 64)),
                               ValidKey(k) ? "\" is not a string" : "\" is not a valid key");
      return t;
    }
    data.emplace_back(std::string(k), absl::Base64Escape(absl::string_view(
                                          m.value.GetString(), m.value.GetStringLength())));
  }
  std::sort(data.begin(), data.end());
  t.synced = true;
  t.reason = "Synced";
  t.message = absl::StrCat(data.size(), " secrets from the web app");
  t.data = std::move(data);
  return t;
}

void SecretsSync::Publish(const std::string& key, TeamSecrets outcome) {
  {
    std::lock_guard<std::mutex> l(mu_);
    auto e = entries_.find(key);
    // Dropped, or re-annotated, while the request ran: not this answer's any more.
    if (e == entries_.end() || e->second.environment_id != outcome.environment_id) return;
    Entry& entry = e->second;
    entry.in_flight = false;
    const absl::Time now = clock_->Now();
    if (outcome.synced) {
      entry.backoff = absl::ZeroDuration();
      entry.due = now + options_.refresh * absl::Uniform(jitter_, 0.9, 1.1);
    } else {
      entry.backoff = entry.backoff == absl::ZeroDuration()
                          ? options_.first_backoff
                          : std::min(entry.backoff * 2, options_.refresh);
      entry.due = now + entry.backoff;
    }
    auto prev = outcomes_.find(key);
    if (prev != outcomes_.end() && !outcome.synced) outcome.data = prev->second.data;  // last good
    if (prev != outcomes_.end() && SameOutcome(prev->second, outcome)) return;
    if (prev != outcomes_.end()) {
      prev->second.mark->Set();
    } else {
      add_mark_->Set();
      add_mark_ = std::make_shared<const kube::CacheMark>();
    }
    outcomes_.insert_or_assign(key, std::move(outcome));
  }
  changed_(key);
}

}  // namespace controllers
