#include "manager/manager.h"

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <random>
#include <thread>
#include <tuple>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "build_info.h"
#include "controllers/environment/controller.h"
#include "kube/cpprest_transport.h"
#include "kube/kubeconfig.h"
#include "leaderelection/leader_elector.h"
#include "leaderelection/lease_lock.h"
#include "ops/http_server.h"
#include "ops/metrics.h"
#include "ops/metrics_auth.h"
#include "util/log.h"

namespace manager {
namespace {

constexpr absl::string_view kLogger = "main";

// A unique holder identity per process: the pod (or host) name and a random
// suffix, so a restarted pod with the same name is a new candidate.
std::string Identity() {
  std::string host;
  if (const char* pod = std::getenv("POD_NAME"); pod && *pod) {
    host = pod;
  } else {
    char buf[256] = {};
    host = gethostname(buf, sizeof(buf) - 1) == 0 ? buf : "kube-operator";
  }
  std::random_device rd;
  return absl::StrCat(host, "_", absl::Hex(rd(), absl::kZeroPad8));
}

// Feeds the product's create -> Ready histogram.
class ReadyObserver final : public controllers::ReconcileObserver {
 public:
  explicit ReadyObserver(ops::Metrics* m) : m_(m) {}
  void EnvironmentReady(absl::Duration d) override { m_->EnvironmentReady(d); }

 private:
  ops::Metrics* const m_;
};

// Feeds the secrets fetch metrics.
class SecretsFetchObserver final : public controllers::SecretsObserver {
 public:
  explicit SecretsFetchObserver(ops::Metrics* m) : m_(m) {}
  void SecretsFetched(absl::string_view result, absl::Duration took) override {
    m_->SecretsFetched(result, took);
  }

 private:
  ops::Metrics* const m_;
};

// Feeds the chart render metrics (helm mode).
class ChartRenderObserver final : public controllers::RenderObserver {
 public:
  explicit ChartRenderObserver(ops::Metrics* m) : m_(m) {}
  void Rendered(absl::StatusCode result, absl::Duration took) override {
    m_->ChartRendered(result == absl::StatusCode::kOk ? "OK" : absl::StatusCodeToString(result),
                      took);
  }

 private:
  ops::Metrics* const m_;
};

// What /healthz knows of the workers: the pool's watchdog reports stuck
// reconciles here; every figure goes on to the metrics.
class WorkerHealth final : public workqueue::WorkerPoolObserver {
 public:
  explicit WorkerHealth(ops::Metrics* m) : m_(m) {}
  void ReconcileDone(absl::string_view result, absl::Duration took) override {
    m_->ReconcileDone(result, took);
  }
  void ActiveWorkers(int n) override { m_->ActiveWorkers(n); }
  void StuckWorkers(int n) override {
    stuck_.store(n, std::memory_order_relaxed);
    m_->StuckWorkers(n);
  }
  int stuck() const { return stuck_.load(std::memory_order_relaxed); }

 private:
  ops::Metrics* const m_;
  std::atomic<int> stuck_{0};
};

// Opens once: the workers start after the caches synced, unless shutdown
// closed it first (a reconcile on a half-filled cache would recreate what
// exists; one after SIGTERM would outlive the lease).
class StartGate {
 public:
  // Runs start if the gate is still open, and closes it.
  template <typename F>
  void Open(F start) {
    std::lock_guard<std::mutex> l(mu_);
    if (closed_) return;
    closed_ = true;
    start();
  }
  void Close() {
    std::lock_guard<std::mutex> l(mu_);
    closed_ = true;
  }

 private:
  std::mutex mu_;
  bool closed_ = false;
};

// Out of line: GCC 12 inlining these into Run reports the log fields'
// variant as maybe-uninitialized (a false positive).
[[gnu::noinline]] void LogShutdown(bool lost_lease, int sig) {
  util::Log(lost_lease ? util::LogLevel::kError : util::LogLevel::kInfo, kLogger,
            lost_lease ? "leader election lost; shutting down" : "signal received; shutting down",
            {{"signal", sig}});
}

[[gnu::noinline]] void LogStopped(bool clean) {
  util::Log(util::LogLevel::kInfo, kLogger, "stopped", {{"clean", clean}});
}

absl::StatusOr<std::unique_ptr<kube::Client>> NewClient(const kube::RestConfig& config,
                                                        kube::ClientOptions options) {
  auto transport = kube::NewCpprestTransport(config);
  if (!transport.ok()) return transport.status();
  options.token = config.token;
  return std::make_unique<kube::Client>(std::move(*transport), std::move(options));
}

}  // namespace

struct Manager::Parts {
  Options o;
  std::string identity = Identity();
  kube::RestConfig config;
  std::unique_ptr<ops::Metrics> metrics;
  // Leader election on its own connection, with short timeouts: a renewal
  // must never wait behind the controller's requests nor outlive the renew
  // deadline.
  std::unique_ptr<kube::Client> election_client;
  std::unique_ptr<leaderelection::LeaseLock> lease;
  std::unique_ptr<leaderelection::LeaderElector> elector;
  std::unique_ptr<kube::Client> client;
  std::unique_ptr<ReadyObserver> ready_observer;
  std::unique_ptr<WorkerHealth> worker_health;
  std::unique_ptr<kube::Transport> web_app;  // the Catalyst web app (--web-url)
  std::unique_ptr<SecretsFetchObserver> secrets_observer;
  std::unique_ptr<ChartRenderObserver> render_observer;
  std::unique_ptr<controllers::EnvironmentController> controller;
  // Secure metrics: every request's bearer token reviewed by the API server,
  // on its own client: no write fence (standbys are scraped too, and reviews
  // are POSTs) and no queueing behind the controller's requests.
  std::unique_ptr<kube::Client> auth_client;
  std::unique_ptr<ops::Authenticator> token_review, authn;
  std::unique_ptr<ops::Authorizer> access_review, authz;
  std::unique_ptr<ops::HttpServer> metrics_server, probe_server;

  absl::Status Connect();
  absl::Status BuildElection();
  absl::Status BuildController();
  absl::Status BuildServers();
};

absl::Status Manager::Parts::Connect() {
  static const util::RealClock clock;  // token files re-read through it for the process's life
  auto loaded = kube::LoadRestConfig(kube::ConfigSources::FromEnvironment(o.kubeconfig), &clock);
  if (!loaded.ok()) return loaded.status();
  config = std::move(*loaded);
  // With a kubeconfig CA only that CA is trusted (client-go's rule), so the
  // system bundle cpprest would load into every TLS context (13 MiB across
  // the connections, docs/benchmarks.md) is not read at all. Before any
  // thread. Overwritten even when set (shells often export it): the
  // transport would drop whatever it loaded anyway.
  if (!config.ca_pem.empty()) setenv("SSL_CERT_FILE", "/dev/null", 1);
  // The identity also goes into the User-Agent, so audit logs tell replicas apart.
  config.user_agent = absl::StrCat("kube-operator/", ops::kVersion, " (", identity, ")");
  const std::string host = config.server.substr(config.server.find("://") + 3);
  metrics = std::make_unique<ops::Metrics>("environment", host, o.workers);
  return absl::OkStatus();
}

absl::Status Manager::Parts::BuildElection() {
  if (!o.leader_elect) return absl::OkStatus();
  auto c = NewClient(
      config, {.max_attempts = 1, .observer = metrics.get(), .request_timeout = o.retry_period});
  if (!c.ok()) return c.status();
  election_client = std::move(*c);
  lease = std::make_unique<leaderelection::LeaseLock>(
      election_client.get(),
      o.leader_election_namespace.empty() ? config.default_namespace : o.leader_election_namespace,
      o.leader_election_id);
  elector = std::make_unique<leaderelection::LeaderElector>(
      lease.get(), leaderelection::LeaderElectionConfig{
                       .identity = identity,
                       .lease_duration = o.lease_duration,
                       .renew_deadline = o.renew_deadline,
                       .retry_period = o.retry_period,
                       .on_new_leader = [this](const std::string& holder) {
                         util::Log(util::LogLevel::kInfo, kLogger, "leader observed",
                                   {{"lease", lease->Describe()}, {"holder", holder}});
                       }});
  metrics->SetLeader(o.leader_election_id, false);
  return absl::OkStatus();
}

absl::Status Manager::Parts::BuildController() {
  // The fence: once the lease is not renewed in time, the controller's writes
  // are refused before they are sent.
  auto c = NewClient(config, {.qps = o.kube_api_qps,
                              .burst = o.kube_api_burst,
                              .observer = metrics.get(),
                              .fence = elector.get()});
  if (!c.ok()) return c.status();
  client = std::move(*c);
  ready_observer = std::make_unique<ReadyObserver>(metrics.get());
  worker_health = std::make_unique<WorkerHealth>(metrics.get());
  secrets_observer = std::make_unique<SecretsFetchObserver>(metrics.get());
  render_observer = std::make_unique<ChartRenderObserver>(metrics.get());
  if (!o.config.web_url.empty()) {
    static const util::RealClock clock;
    // Only the scheme and authority: SecretsSync puts the URL's path in front of the endpoint.
    std::string server = o.config.web_url;
    if (size_t slash = server.find('/', server.find("://") + 3); slash != std::string::npos)
      server.resize(slash);
    kube::RestConfig web{.server = server, .user_agent = config.user_agent};
    web.token = o.web_token_file.empty()
                    ? config.token
                    : std::make_shared<kube::FileTokenSource>(o.web_token_file, &clock);
    auto t = kube::NewCpprestTransport(web);
    if (!t.ok()) return t.status();
    web_app = std::move(*t);
  }
  controller = std::make_unique<controllers::EnvironmentController>(
      client.get(), controllers::ControllerOptions{.workers = o.workers,
                                                   .resync_period = o.resync_period,
                                                   .config = o.config,
                                                   .queue_metrics = metrics.get(),
                                                   .worker_observer = worker_health.get(),
                                                   .reconcile_timeout = o.reconcile_timeout,
                                                   .reconcile_observer = ready_observer.get(),
                                                   .web_app = web_app.get(),
                                                   .secrets_refresh = o.secrets_refresh,
                                                   .secrets_observer = secrets_observer.get(),
                                                   .render_observer = render_observer.get()});
  metrics->OnScrape([c = controller.get()](ops::Metrics& m) {
    m.SetUnfinishedWork("environment", c->queue().UnfinishedWork(), c->queue().LongestRunning());
    m.SetEnvironmentPhases(c->CountByPhase());
  });
  return absl::OkStatus();
}

absl::Status Manager::Parts::BuildServers() {
  ops::HttpServerOptions metrics_options;
  if (o.metrics_secure) {
    auto c = NewClient(config, {.qps = 20,
                                .burst = 40,
                                .max_attempts = 2,
                                .observer = metrics.get(),
                                .request_timeout = absl::Seconds(10)});
    if (!c.ok()) return c.status();
    auth_client = std::move(*c);
    std::vector<std::string> audiences;
    for (absl::string_view a :
         absl::StrSplit(o.metrics_token_audience, ',', absl::SkipWhitespace()))
      audiences.emplace_back(absl::StripAsciiWhitespace(a));
    token_review =
        std::make_unique<ops::TokenReviewAuthenticator>(auth_client.get(), std::move(audiences));
    access_review = std::make_unique<ops::SubjectAccessReviewAuthorizer>(auth_client.get());
    authn = std::make_unique<ops::CachingAuthenticator>(token_review.get());
    authz = std::make_unique<ops::CachingAuthorizer>(access_review.get());
    ops::HttpsOptions https;
    if (!o.metrics_cert_dir.empty()) {
      https.cert_file = absl::StrCat(o.metrics_cert_dir, "/", o.metrics_cert_name);
      https.key_file = absl::StrCat(o.metrics_cert_dir, "/", o.metrics_key_name);
    }
    metrics_options.https = std::move(https);
    metrics_options.filter = ops::AuthFilter(authn.get(), authz.get());
  }
  metrics_server =
      std::make_unique<ops::HttpServer>(o.metrics_bind_address, std::move(metrics_options));
  probe_server = std::make_unique<ops::HttpServer>(o.health_probe_bind_address);
  metrics_server->Handle("/metrics", [m = metrics.get()] {
    return ops::HttpReply{200, "text/plain; version=0.0.4; charset=utf-8", m->Scrape()};
  });
  // Live unless a worker is stuck in one reconcile: a hang (a parser that does
  // not terminate, a request that never returns) only ends with the process,
  // so the kubelet restarts it (and a standby takes the lease). The body names
  // the check, not the Environment: the port is unauthenticated; the error
  // log line names it.
  probe_server->Handle("/healthz", [h = worker_health.get(), timeout = o.reconcile_timeout] {
    if (const int n = h->stuck(); n > 0)
      return ops::HttpReply{
          500, "text/plain",
          absl::StrCat("reconcile-timeout: ", n, n == 1 ? " worker" : " workers",
                       " in one reconcile for longer than ", absl::FormatDuration(timeout), "\n")};
    return ops::HttpReply{200, "text/plain", "ok\n"};
  });
  // Ready once every cache has synced, and not while any is stale; standbys
  // too, since their warm caches are what makes a failover fast.
  probe_server->Handle("/readyz", [c = controller.get()] {
    if (!c->HasSynced()) return ops::HttpReply{503, "text/plain", "caches not synced\n"};
    if (c->Stale()) return ops::HttpReply{503, "text/plain", "a watch is stale\n"};
    return ops::HttpReply{200, "text/plain", "ok\n"};
  });
  for (auto [server, flag, address] :
       {std::tuple{metrics_server.get(), "--metrics-bind-address", &o.metrics_bind_address},
        std::tuple{probe_server.get(), "--health-probe-bind-address",
                   &o.health_probe_bind_address}}) {
    if (*address == "0") continue;
    if (absl::Status s = server->Start(); !s.ok())
      return absl::InvalidArgumentError(absl::StrCat(flag, ": ", s.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Manager>> Manager::Create(const Options& o) {
  auto p = std::make_unique<Parts>();
  p->o = o;
  for (absl::Status (Parts::*step)() :
       {&Parts::Connect, &Parts::BuildElection, &Parts::BuildController, &Parts::BuildServers})
    if (absl::Status s = ((*p).*step)(); !s.ok()) return s;
  util::Log(util::LogLevel::kInfo, kLogger, "starting",
            {{"version", ops::kVersion},
             {"revision", ops::kRevision},
             {"server", p->config.server},
             {"workers", o.workers},
             {"metrics_secure", o.metrics_secure},
             {"identity", p->identity},
             {"leader_elect", o.leader_elect}});
  return std::unique_ptr<Manager>(new Manager(std::move(p)));
}

Manager::Manager(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}
Manager::~Manager() = default;

int Manager::Run(const sigset_t& signals) {
  Parts& p = *parts_;
  p.controller->StartInformers();
  util::Cancellation stopping, stop_election;
  StartGate gate;
  auto start_reconciling = [&] {
    while (!p.controller->HasSynced() && !stopping.WaitFor(absl::Milliseconds(100))) {
    }
    gate.Open([&] {
      util::Log(util::LogLevel::kInfo, kLogger, "caches synced; reconciling");
      p.controller->StartWorkers();
    });
  };
  std::atomic<bool> lost_lease{false};
  std::thread runner([&] {
    if (!p.elector) return start_reconciling();
    // Run blocks while leading; it returns false when the lease was lost.
    std::thread starter;
    const bool graceful = p.elector->Run(stop_election, [&] {
      p.metrics->SetLeader(p.o.leader_election_id, true);
      starter = std::thread(start_reconciling);
    });
    p.metrics->SetLeader(p.o.leader_election_id, false);
    if (!graceful) {
      // controller-runtime's behaviour: a replica that lost its lease exits
      // and restarts as a standby, rather than risk a second writer.
      lost_lease = true;
      kill(getpid(), SIGTERM);
    }
    if (starter.joinable()) starter.join();
  });

  int sig = 0;
  sigwait(&signals, &sig);
  LogShutdown(lost_lease, sig);
  stopping.Cancel();
  gate.Close();
  // In-flight reconciles finish while the lease is still held, then it is released.
  const bool clean = p.controller->Stop(p.o.shutdown_grace);
  stop_election.Cancel();
  runner.join();
  LogStopped(clean);
  return lost_lease ? 1 : 0;
}

sigset_t BlockTerminationSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

}  // namespace manager
