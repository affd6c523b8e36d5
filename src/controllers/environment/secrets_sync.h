// SecretsSync: keeps each annotated Environment's team secrets fetched from
// the Catalyst web app (GET <web-url>/api/internal/secrets/<environment-id>,
// the operator's own ServiceAccount token as bearer), off the workers' path:
// its own threads, a timeout per request, a bounded number at once and a
// backoff per Environment, so a slow or dead web app delays nobody's
// reconcile. What it learns (team_secrets.h) the planner turns into Secret
// catalyst-secrets and condition SecretsSynced; a change is handed to
// `changed` (the work queue). docs/contract.md, "The team's secrets".
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/time/time.h"
#include "controllers/environment/team_secrets.h"
#include "informer/store.h"
#include "kube/transport.h"
#include "util/clock.h"

namespace controllers {

// Fetches by result (the SecretsSynced reason) and their latency; thread-safe.
class SecretsObserver {
 public:
  virtual ~SecretsObserver() = default;
  virtual void SecretsFetched(absl::string_view result, absl::Duration took) = 0;
};

struct SecretsSyncOptions {
  // The web app: base URL (its path, if any, prefixes the endpoint) and a
  // transport to it that sends the operator's token (not owned).
  std::string web_url;
  kube::Transport* web = nullptr;
  absl::Duration refresh = absl::Minutes(5);   // jittered by ±10 %
  absl::Duration timeout = absl::Seconds(10);  // one request
  int concurrency = 2;                         // requests at once
  size_t max_body = size_t{1} << 20;           // a larger answer is refused
  // After a failure: this, doubling, up to refresh.
  absl::Duration first_backoff = absl::Seconds(5);
  SecretsObserver* observer = nullptr;
};

class SecretsSync {
 public:
  // environments: the Environments' cache (read only). changed(key): the
  // outcome for that Environment changed (called from SecretsSync's threads).
  SecretsSync(const informer::Store* environments, SecretsSyncOptions options,
              const util::Clock* clock, std::function<void(const std::string&)> changed);
  ~SecretsSync();

  void Start();
  void Stop();  // idempotent; joins

  // The outcome for an Environment key, if any. Thread-safe.
  std::optional<TeamSecrets> Get(const std::string& key) const;
  // Set, and replaced, whenever an outcome appears for a key that had none.
  std::shared_ptr<const kube::CacheMark> AddMark() const;

  // One round on the calling thread: forgets Environments gone or no longer
  // annotated, fetches those due (a new or changed annotation is due at once).
  // Start() runs it every second; tests call it with a fake clock.
  void RunOnce();

 private:
  struct Entry {
    std::string environment_id;
    absl::Time due = absl::InfinitePast();
    absl::Duration backoff;
    bool in_flight = false;
  };
  void Loop();
  void FetchLoop();
  void Fetch(const std::string& key, const std::string& id);
  TeamSecrets Answer(const std::string& id, const absl::StatusOr<kube::HttpResponse>& r) const;
  void Publish(const std::string& key, TeamSecrets outcome);  // mu_ not held
  void Drop(const std::string& key);                          // mu_ held

  const informer::Store* const environments_;
  SecretsSyncOptions options_;
  const util::Clock* const clock_;
  const std::function<void(const std::string&)> changed_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  absl::flat_hash_map<std::string, Entry> entries_;
  absl::flat_hash_map<std::string, TeamSecrets> outcomes_;
  std::shared_ptr<const kube::CacheMark> add_mark_ = std::make_shared<const kube::CacheMark>();
  std::vector<std::pair<std::string, std::string>> pending_;  // (key, id) to fetch
  absl::BitGen jitter_;
  bool threaded_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace controllers
