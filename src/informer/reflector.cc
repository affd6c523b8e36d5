#include "informer/reflector.h"

#include <thread>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "kube/api_error.h"
#include "util/backoff.h"
#include "util/log.h"

namespace informer {
namespace {
constexpr absl::string_view kLogger = "reflector";
}  // namespace

Reflector::Reflector(ListerWatcher* lw, ReflectorSink* sink, ReflectorOptions options)
    : lw_(lw),
      sink_(sink),
      options_(std::move(options)),
      clock_(options_.clock ? options_.clock : &real_clock_) {}

bool Reflector::HasSynced() const {
  std::lock_guard l(mu_);
  return synced_;
}

std::string Reflector::LastResourceVersion() const {
  std::lock_guard l(mu_);
  return rv_;
}

absl::Time Reflector::LastProgress() const {
  std::lock_guard l(mu_);
  return last_progress_;
}

bool Reflector::Watching() const {
  std::lock_guard l(mu_);
  return watch_cancel_ != nullptr;
}

bool Reflector::Connected(absl::Duration within) const {
  std::lock_guard l(mu_);
  const absl::Time now = clock_->Now();
  if (watch_cancel_ && now - watch_opened_ >= absl::Seconds(1)) return true;
  return now - last_contact_ <= within;
}

ReflectorStats Reflector::Stats() const {
  std::lock_guard l(mu_);
  return stats_;
}

void Reflector::Progress(const std::string& rv) {
  std::lock_guard l(mu_);
  if (!rv.empty()) rv_ = rv;
  last_progress_ = last_contact_ = clock_->Now();
}

absl::Status Reflector::ListAll(const std::string& resource_version) {
  std::vector<kube::Object> all;
  kube::ListOptions opts{.limit = options_.page_size, .resource_version = resource_version};
  // With a resourceVersion, the first page may come from the watch cache
  // (NotOlderThan); continuing pages are served from etcd at that version.
  if (!resource_version.empty()) opts.resource_version_match = "NotOlderThan";
  std::string list_rv;
  do {
    auto page = lw_->List(opts);
    if (!page.ok()) return page.status();
    if (list_rv.empty()) list_rv = page->resource_version;
    for (auto& o : page->items) all.push_back(std::move(o));
    opts.continue_token = page->continue_token;
    // A continue token carries its own version.
    opts.resource_version.clear();
    opts.resource_version_match.clear();
  } while (!opts.continue_token.empty());
  const size_t n = all.size();
  sink_->Replace(std::move(all));
  {
    std::lock_guard l(mu_);
    synced_ = true;
    ++stats_.lists;
  }
  Progress(list_rv);
  util::Log(util::LogLevel::kDebug, kLogger, "listed",
            {{"resource", options_.name}, {"objects", n}, {"resourceVersion", list_rv}});
  return absl::OkStatus();
}

absl::Status Reflector::WatchOnce(util::Cancellation& stop) {
  static thread_local absl::BitGen gen;
  const absl::Duration timeout = options_.min_watch_timeout * absl::Uniform(gen, 1.0, 2.0);
  util::Cancellation cancel;  // this stream's: stop or the watchdog fire it
  const int link = stop.OnCancel([&cancel] { cancel.Cancel(); });
  {
    std::lock_guard l(mu_);
    watch_cancel_ = &cancel;
    ++stats_.watches;
    // An open stream restarts the watchdog's clock; whether the server is
    // there at all is Connected()'s business.
    last_progress_ = watch_opened_ = clock_->Now();
  }
  absl::Status s = lw_->Watch({.resource_version = LastResourceVersion(),
                               .allow_bookmarks = true,
                               .timeout_seconds = static_cast<int>(absl::ToInt64Seconds(timeout))},
                              cancel, [&](const kube::WatchEvent& ev) {
                                std::string rv(ev.object.ResourceVersion());
                                switch (ev.type) {
                                  case kube::WatchEvent::Type::kBookmark: {
                                    std::lock_guard l(mu_);
                                    ++stats_.bookmarks;
                                    break;
                                  }
                                  case kube::WatchEvent::Type::kError:
                                    return false;  // the client turns it into the returned status
                                  default: {
                                    sink_->Apply(ev);
                                    std::lock_guard l(mu_);
                                    ++stats_.events;
                                  }
                                }
                                Progress(rv);
                                return true;
                              });
  stop.Remove(link);
  std::lock_guard l(mu_);
  watch_cancel_ = nullptr;
  // A watch that was up until now, or that the server ended, was contact. An
  // attempt that never reached the server (refused, a connect that timed out
  // against an unreachable host) is not, however long it took.
  const absl::Time now = clock_->Now();
  if (s.ok() || (now - watch_opened_ >= absl::Seconds(1) && !kube::apierrors::WasNotSent(s)))
    last_contact_ = now;
  return s;
}

void Reflector::WatchdogLoop(util::Cancellation& stop) {
  while (!stop.WaitFor(options_.watchdog_poll)) {
    std::lock_guard l(mu_);
    if (watch_cancel_ && clock_->Now() - last_progress_ > options_.watchdog) {
      ++stats_.watchdog_restarts;
      util::Log(util::LogLevel::kWarn, kLogger,
                "watch silent past the watchdog deadline; restarting it",
                {{"resource", options_.name},
                 {"silentFor", absl::FormatDuration(clock_->Now() - last_progress_)}});
      watch_cancel_->Cancel();
      watch_cancel_ = nullptr;
    }
  }
}

// Waits d before the next attempt, saying why.
void Reflector::WaitAfter(util::Cancellation& stop, const absl::Status& why, absl::Duration d) {
  if (options_.on_backoff) options_.on_backoff(d);
  // Missing RBAC, a missing CRD or bad credentials do not heal by waiting
  // alone: an error, not a warning, so that nobody mistakes it for a blip.
  const bool config = kube::apierrors::IsForbidden(why) || kube::apierrors::IsNotFound(why) ||
                      kube::apierrors::IsUnauthorized(why);
  util::Log(config ? util::LogLevel::kError : util::LogLevel::kWarn, kLogger,
            "retrying after backoff",
            {{"resource", options_.name},
             {"error", std::string(why.message())},
             {"backoff", absl::FormatDuration(d)}});
  stop.WaitFor(d);
}

void Reflector::CountError(const absl::Status& s) {
  std::lock_guard l(mu_);
  ++stats_.errors;
  stats_.gone += kube::apierrors::IsGone(s);
}

void Reflector::Run(util::Cancellation& stop) {
  std::thread watchdog([&] { WatchdogLoop(stop); });
  util::Backoff backoff(options_.backoff_initial, options_.backoff_cap);
  bool need_list = true;
  std::string relist_from;  // after a 410: the last version seen, then ""
  // The server's Retry-After (a 429) wins over our own backoff.
  auto backoff_for = [&](const absl::Status& s) {
    absl::Duration d = backoff.Next();
    if (absl::Duration ra = kube::apierrors::RetryAfter(s); ra > absl::ZeroDuration()) d = ra;
    return d;
  };
  while (!stop.cancelled()) {
    if (need_list) {
      absl::Status s = ListAll(relist_from);
      if (stop.cancelled()) break;
      if (!s.ok()) {
        CountError(s);
        if (kube::apierrors::IsGone(s) && !relist_from.empty()) {
          relist_from.clear();  // that version is compacted too: a fresh list
          continue;
        }
        WaitAfter(stop, s, backoff_for(s));
        continue;
      }
      need_list = false;
      relist_from.clear();
    }
    const absl::Time started = clock_->Now();
    const int64_t events_before = Stats().events + Stats().bookmarks;
    absl::Status s = WatchOnce(stop);
    if (stop.cancelled()) break;
    if (clock_->Now() - started >= options_.backoff_reset_after) backoff.Reset();
    if (s.ok() || s.code() == absl::StatusCode::kCancelled) {
      // The server ended the watch (timeoutSeconds) or the watchdog did:
      // resume at once, unless the stream closed at once with nothing in it,
      // which would otherwise loop hot.
      const bool empty = Stats().events + Stats().bookmarks == events_before;
      if (empty && clock_->Now() - started < absl::Seconds(1) && s.ok())
        WaitAfter(stop, absl::UnavailableError("watch closed immediately"), backoff.Next());
      continue;
    }
    CountError(s);
    if (kube::apierrors::IsGone(s)) {
      util::Log(util::LogLevel::kInfo, kLogger, "watch expired (410); relisting",
                {{"resource", options_.name}, {"resourceVersion", LastResourceVersion()}});
      need_list = true;
      relist_from = LastResourceVersion();
      continue;
    }
    // 429 and everything else: back off and resume the watch where it was.
    if (LastResourceVersion().empty()) need_list = true;
    WaitAfter(stop, s, backoff_for(s));
  }
  watchdog.join();
}

}  // namespace informer
