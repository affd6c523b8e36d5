#include "controllers/environment/render_sync.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "controllers/environment/naming.h"
#include "kube/api_error.h"
#include "util/log.h"

namespace controllers {
namespace {

constexpr absl::string_view kLogger = "render";

class RealChartRenderer final : public ChartRenderer {
 public:
  RealChartRenderer(
      RenderOptions options,
      std::function<absl::StatusOr<std::string>(const std::string&, const std::string&)> git_token)
      : options_(std::move(options)), git_token_(std::move(git_token)) {}

  absl::StatusOr<RenderResult> Render(const RenderRequest& request) override {
    ChartSource source{.url = request.url,
                       .branch = request.branch,
                       .commit = request.commit,
                       .chart_path = request.chart_path};
    if (!request.installation_id.empty()) {
      if (!git_token_)
        return absl::FailedPreconditionError(
            absl::StrCat("git token for installation ", request.installation_id,
                         ": the operator has no way to ask for one"));
      absl::StatusOr<std::string> token = git_token_(request.ns, request.installation_id);
      if (!token.ok()) return Transient(token.status());
      source.token = *std::move(token);
    }
    RenderOptions options = options_;
    options.release = request.release;
    options.ns = request.ns;
    options.values_yaml = request.values_json;
    if (request.type == "docker-compose") {
      options.compose = true;
      options.images = {request.images.begin(), request.images.end()};
      options.compose_cpu_limit = request.default_cpu_limit;
      options.compose_pull_secret = request.pull_secret;
    }
    return RenderChart(source, options);
  }

 private:
  // The mint's API errors that pass with time: a namespace's `default`
  // ServiceAccount is made by the controller-manager a moment after the
  // namespace (NotFound), and 429/5xx. Kept final, they would hold a new
  // Environment's render until its request changes.
  static absl::Status Transient(const absl::Status& s) {
    if (!kube::GetApiError(s) ||
        !(kube::apierrors::IsNotFound(s) || kube::apierrors::IsRetryable(s)) ||
        RenderRetryable(s.code()))
      return s;
    absl::Status out(absl::StatusCode::kUnavailable, s.message());
    s.ForEachPayload(
        [&out](absl::string_view key, const absl::Cord& value) { out.SetPayload(key, value); });
    return out;
  }

  const RenderOptions options_;
  const std::function<absl::StatusOr<std::string>(const std::string&, const std::string&)>
      git_token_;
};

}  // namespace

std::string RenderRequest::Digest() const {
  std::string in;
  for (const std::string* f : {&type, &ns, &release, &url, &branch, &commit, &chart_path,
                               &values_json, &installation_id, &default_cpu_limit})
    absl::StrAppend(&in, f->size(), ":", *f, ";");
  absl::StrAppend(&in, pull_secret ? "1;" : "0;");
  for (const auto& [name, image] : images)
    absl::StrAppend(&in, name.size(), ":", name, ";", image.size(), ":", image, ";");
  return HexSha256(in);
}

std::unique_ptr<ChartRenderer> NewChartRenderer(
    RenderOptions options,
    std::function<absl::StatusOr<std::string>(const std::string& ns,
                                              const std::string& installation_id)>
        git_token) {
  return std::make_unique<RealChartRenderer>(std::move(options), std::move(git_token));
}

bool RenderRetryable(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
      return true;
    default:
      return false;
  }
}

RenderSync::RenderSync(RenderSyncOptions options, const util::Clock* clock,
                       std::function<void(const std::string&)> changed)
    : options_(std::move(options)), clock_(clock), changed_(std::move(changed)) {}

RenderSync::~RenderSync() { Stop(); }

void RenderSync::Start() {
  std::lock_guard<std::mutex> l(mu_);
  if (threaded_ || stop_) return;
  threaded_ = true;
  threads_.emplace_back([this] { Loop(); });
  for (int i = 0; i < std::max(1, options_.concurrency); ++i)
    threads_.emplace_back([this] { RenderLoop(); });
}

void RenderSync::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void RenderSync::Want(const RenderRequest& request) {
  std::string digest = request.Digest();
  {
    std::lock_guard<std::mutex> l(mu_);
    Entry& e = entries_[request.env_key];
    if (e.digest == digest) return;
    e.request = request;
    e.digest = std::move(digest);
    e.backoff = absl::ZeroDuration();
    // Back to a request already answered for good (A, B, A again before B's
    // outcome): that answer stands.
    if (e.outcome && e.outcome_final && e.outcome->digest == e.digest) {
      e.due = absl::InfiniteFuture();
      return;
    }
    e.due = clock_->Now();
    // One render per Environment at a time: one in flight (for an older
    // digest) queues this one when it ends (Publish).
    if (!threaded_ || e.ticket != 0) return;
    pending_.push_back(Queue(request.env_key, e));
  }
  cv_.notify_all();
}

std::shared_ptr<const RenderOutcome> RenderSync::Get(const std::string& env_key) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = entries_.find(env_key);
  return it == entries_.end() ? nullptr : it->second.outcome;
}

std::shared_ptr<const kube::CacheMark> RenderSync::AddMark() const {
  std::lock_guard<std::mutex> l(mu_);
  return add_mark_;
}

void RenderSync::Forget(const std::string& env_key) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = entries_.find(env_key);
  if (it == entries_.end()) return;
  if (it->second.outcome) it->second.outcome->mark->Set();
  entries_.erase(it);  // its ticket with it: a render in flight finds nothing to answer
}

std::pair<std::string, uint64_t> RenderSync::Queue(const std::string& key, Entry& e) {
  e.ticket = next_ticket_++;
  return {key, e.ticket};
}

void RenderSync::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    l.unlock();
    RunOnce();
    l.lock();
    cv_.wait_for(l, std::chrono::seconds(1), [this] { return stop_; });
  }
}

void RenderSync::RenderLoop() {
  std::unique_lock<std::mutex> l(mu_);
  while (true) {
    cv_.wait(l, [this] { return stop_ || !pending_.empty(); });
    if (stop_) return;
    auto [key, ticket] = std::move(pending_.front());
    pending_.pop_front();
    l.unlock();
    Render(key, ticket);
    l.lock();
  }
}

void RenderSync::RunOnce() {
  const absl::Time now = clock_->Now();
  std::vector<std::pair<std::string, uint64_t>> due;
  bool threaded;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (auto& [key, e] : entries_)
      if (e.ticket == 0 && now >= e.due) due.push_back(Queue(key, e));
    threaded = threaded_;
    if (threaded) pending_.insert(pending_.end(), due.begin(), due.end());
  }
  if (threaded) {
    if (!due.empty()) cv_.notify_all();
    return;
  }
  for (const auto& [key, ticket] : due) Render(key, ticket);
}

void RenderSync::Render(const std::string& key, uint64_t ticket) {
  RenderRequest request;
  std::string digest;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.ticket != ticket) return;  // forgotten meanwhile
    request = it->second.request;
    digest = it->second.digest;
  }
  const absl::Time start = clock_->Now();
  RenderOutcome outcome{.digest = std::move(digest)};
  absl::StatusOr<RenderResult> result = options_.renderer->Render(request);
  if (!result.ok()) {
    outcome.status = result.status();
  } else {
    absl::StatusOr<std::vector<RenderedObject>> objects =
        ConfineRendered(result->manifests, request.ns, options_.limits);
    if (!objects.ok()) {
      outcome.status = objects.status();
    } else {
      outcome.commit = std::move(result->commit);
      outcome.objects = *std::move(objects);
    }
  }
  if (options_.observer) options_.observer->Rendered(outcome.status.code(), clock_->Now() - start);
  if (!outcome.status.ok())
    util::Log(util::LogLevel::kWarn, kLogger, "chart not rendered",
              {{"environment", key},
               {"retry", RenderRetryable(outcome.status.code()) ? "yes" : "no"},
               {"error", outcome.status.ToString()}});
  Publish(key, ticket, std::move(outcome));
}

void RenderSync::Publish(const std::string& key, uint64_t ticket, RenderOutcome outcome) {
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.ticket != ticket) return;  // forgotten meanwhile
    Entry& e = it->second;
    e.ticket = 0;
    if (e.digest != outcome.digest) {
      // A newer request came while this one rendered: it wins, at once (the
      // next RunOnce when not threaded: due is now).
      if (!threaded_) return;
      pending_.push_back(Queue(key, e));
      cv_.notify_all();
      return;
    }
    const bool final = outcome.status.ok() || !RenderRetryable(outcome.status.code());
    if (final) {
      e.backoff = absl::ZeroDuration();
      e.due = absl::InfiniteFuture();
    } else {
      e.backoff = e.backoff == absl::ZeroDuration() ? options_.first_backoff
                                                    : std::min(e.backoff * 2, options_.max_backoff);
      e.due = clock_->Now() + e.backoff;
    }
    // A retry that failed as before changes nothing a pass read.
    if (e.outcome && e.outcome->digest == outcome.digest && !outcome.status.ok() &&
        e.outcome->status == outcome.status)
      return;
    if (e.outcome) {
      e.outcome->mark->Set();
    } else {
      add_mark_->Set();
      add_mark_ = std::make_shared<const kube::CacheMark>();
    }
    e.outcome = std::make_shared<const RenderOutcome>(std::move(outcome));
    e.outcome_final = final;
  }
  changed_(key);
}

}  // namespace controllers
