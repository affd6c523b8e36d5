// kube-operator: turns Environment resources into running environments.
#include <malloc.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "build_info.h"
#include "controllers/environment/manifests.h"
#include "controllers/environment/controller.h"
#include "kube/cpprest_transport.h"
#include "kube/kubeconfig.h"
#include "leaderelection/leader_elector.h"
#include "leaderelection/lease_lock.h"
#include "ops/http_server.h"
#include "ops/metrics.h"
#include "ops/metrics_auth.h"
#include "util/flags.h"
#include "util/log.h"

namespace {

using ops::kVersion;  // meson.build's project version (src/ops/build_info.h.in)
constexpr absl::string_view kLogger = "main";

struct Options {
  std::string kubeconfig;
  int workers = 4;
  absl::Duration resync_period = absl::Seconds(5);
  absl::Duration shutdown_grace = absl::Seconds(20);
  std::string log_level = "info";
  std::string log_format = "json";
  double kube_api_qps = 50;
  int kube_api_burst = 100;
  std::string metrics_bind_address = ":8080";
  std::string health_probe_bind_address = ":8081";
  // Off by default so that an existing `--metrics-bind-address=:8080` scrape
  // keeps working; the Helm chart turns it on (on :8443).
  bool metrics_secure = false;
  std::string metrics_cert_dir;  // "": a self-signed certificate
  std::string metrics_cert_name = "tls.crt";
  std::string metrics_key_name = "tls.key";
  bool leader_elect = false;
  std::string leader_election_namespace;  // "": the kubeconfig's or the pod's namespace
  std::string leader_election_id = "kube-operator-leader";
  absl::Duration lease_duration = absl::Seconds(15);
  absl::Duration renew_deadline = absl::Seconds(10);
  absl::Duration retry_period = absl::Seconds(2);
  bool help = false, version = false;
  controllers::OperatorConfig config;
};

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

int Run(int argc, char** argv) {
  Options o;
  util::FlagSet flags;
  flags.String("kubeconfig", &o.kubeconfig,
               "kubeconfig file (else $KUBECONFIG, in-cluster, ~/.kube/config)");
  flags.Int("workers", &o.workers, "concurrent reconciles");
  flags.String("metrics-bind-address", &o.metrics_bind_address, "serve /metrics here (\"0\": off)");
  flags.Bool("metrics-secure", &o.metrics_secure,
             "serve /metrics over HTTPS to bearer tokens that a TokenReview accepts and a "
             "SubjectAccessReview allows to get /metrics (false: plain HTTP, no authorization)");
  flags.String("metrics-cert-dir", &o.metrics_cert_dir,
               "directory of the metrics serving certificate and key, re-read when they change "
               "(\"\": a self-signed certificate made at start)");
  flags.String("metrics-cert-name", &o.metrics_cert_name, "certificate file in --metrics-cert-dir");
  flags.String("metrics-key-name", &o.metrics_key_name, "key file in --metrics-cert-dir");
  flags.String("health-probe-bind-address", &o.health_probe_bind_address,
               "serve /healthz and /readyz here (\"0\": off)");
  flags.Duration("resync-period", &o.resync_period,
                 "how often every Environment is looked at again");
  flags.Duration("shutdown-grace", &o.shutdown_grace,
                 "how long in-flight reconciles may finish on SIGTERM");
  flags.String("log-level", &o.log_level, "debug|info|warn|error");
  flags.String("log-format", &o.log_format, "json|text");
  flags.Double("kube-api-qps", &o.kube_api_qps,
               "client-side QPS limit towards the API server (0: none)");
  flags.Int("kube-api-burst", &o.kube_api_burst, "client-side burst");
  flags.String("ingress-namespace", &o.config.ingress_namespace,
               "namespace of the ingress controller");
  flags.String("ingress-class", &o.config.ingress_class,
               "ingressClassName of web Ingresses (empty: default)");
  flags.String("url-host-template", &o.config.url_host_template,
               "web host; {name} {namespace} replaced");
  flags.String("url-scheme", &o.config.url_scheme, "scheme of status.url");
  flags.Duration("failure-deadline", &o.config.failure_deadline,
                 "no progress for this long: phase Failed");
  flags.String("quota-cpu", &o.config.quota_cpu, "ResourceQuota requests.cpu");
  flags.String("quota-memory", &o.config.quota_memory, "ResourceQuota memory");
  flags.String("quota-storage", &o.config.quota_storage, "ResourceQuota requests.storage");
  flags.String("quota-pods", &o.config.quota_pods, "ResourceQuota pods");
  flags.String("postgres-image", &o.config.postgres_image, "postgres image");
  flags.String("node-image", &o.config.node_image, "node image (npm install, migrate, next dev)");
  flags.String("git-image", &o.config.git_image, "git image (clone)");
  flags.String("web-memory-limit", &o.config.web_memory_limit, "web container memory limit");
  flags.String("postgres-memory-limit", &o.config.postgres_memory_limit, "postgres memory limit");
  flags.String("postgres-storage", &o.config.postgres_storage, "postgres volume size");
  flags.String("workspace-storage", &o.config.workspace_storage, "workspace volume size");
  flags.String("storage-class", &o.config.storage_class,
               "storageClassName of volumes (empty: default)");
  flags.Bool("registry-credentials", &o.config.registry_credentials,
             "copy each Project namespace's registry-credentials Secret to its environments "
             "(needs RBAC on Secrets)");
  flags.Bool("leader-elect", &o.leader_elect,
             "elect a leader on a Lease; only the leader reconciles (run 2+ replicas)");
  flags.String("leader-election-namespace", &o.leader_election_namespace,
               "namespace of the Lease (default: the pod's or the kubeconfig's)");
  flags.String("leader-election-id", &o.leader_election_id, "name of the Lease");
  flags.Duration("leader-election-lease-duration", &o.lease_duration,
                 "how long standbys wait after the leader's last renewal");
  flags.Duration("leader-election-renew-deadline", &o.renew_deadline,
                 "how long the leader tries to renew before it stops writing and exits");
  flags.Duration("leader-election-retry-period", &o.retry_period,
                 "how often candidates try to acquire and the leader renews");
  flags.Bool("help", &o.help, "print this help");
  flags.Bool("version", &o.version, "print the version");
  if (absl::Status s = flags.Parse(argc, argv); !s.ok()) {
    std::fprintf(stderr, "kube-operator: %s\n\n%s", std::string(s.message()).c_str(),
                 flags.Usage(argv[0]).c_str());
    return 2;
  }
  if (o.help) {
    std::fputs(flags.Usage(argv[0]).c_str(), stdout);
    return 0;
  }
  if (o.version) {
    std::printf("kube-operator %s (revision %s, %s)\n", kVersion, ops::kRevision, ops::kCompiler);
    return 0;
  }
  auto bad = [](const std::string& msg) {
    std::fprintf(stderr, "kube-operator: %s\n", msg.c_str());
    return 2;
  };
  static const std::pair<const char*, util::LogLevel> kLevels[] = {
      {"debug", util::LogLevel::kDebug},
      {"info", util::LogLevel::kInfo},
      {"warn", util::LogLevel::kWarn},
      {"error", util::LogLevel::kError}};
  bool level_ok = false;
  for (const auto& [name, level] : kLevels)
    if (o.log_level == name) util::SetLogLevel(level), level_ok = true;
  if (!level_ok)
    return bad("invalid value \"" + o.log_level + "\" for --log-level: want debug|info|warn|error");
  if (o.log_format != "json" && o.log_format != "text")
    return bad("invalid value \"" + o.log_format + "\" for --log-format: want json|text");
  static util::StderrSink text_sink(/*json=*/false);
  if (o.log_format == "text") util::SetLogSink(&text_sink);
  if (o.workers < 1 || o.workers > 256) return bad("invalid value for --workers: want 1..256");
  if (o.resync_period < absl::Seconds(1))
    return bad("invalid value for --resync-period: want at least 1s");
  if (absl::Status s = controllers::ValidateConfig(o.config); !s.ok())
    return bad(std::string(s.message()));
  if (o.leader_elect)
    if (absl::Status s = leaderelection::ValidateConfig({.identity = "-",
                                                         .lease_duration = o.lease_duration,
                                                         .renew_deadline = o.renew_deadline,
                                                         .retry_period = o.retry_period});
        !s.ok())
      return bad(std::string(s.message()));

  // Signals go to the main thread only: block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  static const util::RealClock clock;
  auto config = kube::LoadRestConfig(kube::ConfigSources::FromEnvironment(o.kubeconfig), &clock);
  if (!config.ok()) return bad(std::string(config.status().message()));
  // With a kubeconfig CA only that CA is trusted (client-go's rule), so the
  // system bundle cpprest would load into every TLS context (13 MiB across
  // the connections, docs/benchmarks.md) is not read at all. Before any thread.
  // Overwritten even when set (shells often export it): the transport would
  // drop whatever it loaded anyway.
  if (!config->ca_pem.empty()) setenv("SSL_CERT_FILE", "/dev/null", 1);
  // The identity also goes into the User-Agent, so audit logs tell replicas apart.
  const std::string identity = Identity();
  config->user_agent = absl::StrCat("kube-operator/", kVersion, " (", identity, ")");
  auto transport = kube::NewCpprestTransport(*config);
  if (!transport.ok()) return bad(std::string(transport.status().message()));
  const std::string host = config->server.substr(config->server.find("://") + 3);
  ops::Metrics metrics("environment", host, o.workers);
  std::unique_ptr<kube::Client> election_client;
  std::unique_ptr<leaderelection::LeaseLock> lease;
  std::unique_ptr<leaderelection::LeaderElector> elector;
  if (o.leader_elect) {
    // Its own connection and short timeouts: a renewal must never wait behind
    // the controller's requests nor outlive the renew deadline.
    auto election_transport = kube::NewCpprestTransport(*config);
    if (!election_transport.ok()) return bad(std::string(election_transport.status().message()));
    election_client = std::make_unique<kube::Client>(
        std::move(*election_transport), kube::ClientOptions{.max_attempts = 1,
                                                            .token = config->token,
                                                            .observer = &metrics,
                                                            .request_timeout = o.retry_period});
    lease = std::make_unique<leaderelection::LeaseLock>(election_client.get(),
                                                        o.leader_election_namespace.empty()
                                                            ? config->default_namespace
                                                            : o.leader_election_namespace,
                                                        o.leader_election_id);
    elector = std::make_unique<leaderelection::LeaderElector>(
        lease.get(), leaderelection::LeaderElectionConfig{
                         .identity = identity,
                         .lease_duration = o.lease_duration,
                         .renew_deadline = o.renew_deadline,
                         .retry_period = o.retry_period,
                         .on_new_leader = [&](const std::string& holder) {
                           util::Log(util::LogLevel::kInfo, kLogger, "leader observed",
                                     {{"lease", lease->Describe()}, {"holder", holder}});
                         }});
    metrics.SetLeader(o.leader_election_id, false);
  }
  // The fence: once the lease is not renewed in time, the controller's writes
  // are refused before they are sent (set before any thread starts).
  kube::Client client(std::move(*transport), {.qps = o.kube_api_qps,
                                              .burst = o.kube_api_burst,
                                              .token = config->token,
                                              .observer = &metrics,
                                              .fence = elector.get()});
  util::Log(util::LogLevel::kInfo, kLogger, "starting",
            {{"version", kVersion},
             {"revision", ops::kRevision},
             {"server", config->server},
             {"workers", o.workers},
             {"metrics_secure", o.metrics_secure},
             {"identity", identity},
             {"leader_elect", o.leader_elect}});

  ReadyObserver ready_observer(&metrics);
  controllers::EnvironmentController controller(&client, {.workers = o.workers,
                                                          .resync_period = o.resync_period,
                                                          .config = o.config,
                                                          .queue_metrics = &metrics,
                                                          .worker_observer = &metrics,
                                                          .reconcile_observer = &ready_observer});
  metrics.OnScrape([&controller](ops::Metrics& m) {
    m.SetUnfinishedWork("environment", controller.queue().UnfinishedWork(),
                        controller.queue().LongestRunning());
    m.SetEnvironmentPhases(controller.CountByPhase());
  });
  // Secure metrics: HTTPS, and every request's bearer token reviewed by the
  // API server. Its own client: no write fence (a standby is scraped too, and
  // reviews are POSTs) and no queueing behind the controller's requests.
  std::unique_ptr<kube::Client> auth_client;
  std::unique_ptr<ops::Authenticator> token_review, authn;
  std::unique_ptr<ops::Authorizer> access_review, authz;
  ops::HttpServerOptions metrics_options;
  if (o.metrics_secure) {
    auto auth_transport = kube::NewCpprestTransport(*config);
    if (!auth_transport.ok()) return bad(std::string(auth_transport.status().message()));
    auth_client = std::make_unique<kube::Client>(
        std::move(*auth_transport), kube::ClientOptions{.qps = 20,
                                                        .burst = 40,
                                                        .max_attempts = 2,
                                                        .token = config->token,
                                                        .observer = &metrics,
                                                        .request_timeout = absl::Seconds(10)});
    token_review = std::make_unique<ops::TokenReviewAuthenticator>(auth_client.get());
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
  ops::HttpServer metrics_server(o.metrics_bind_address, std::move(metrics_options));
  ops::HttpServer probe_server(o.health_probe_bind_address);
  metrics_server.Handle("/metrics", [&metrics] {
    return ops::HttpReply{200, "text/plain; version=0.0.4; charset=utf-8", metrics.Scrape()};
  });
  probe_server.Handle("/healthz", [] { return ops::HttpReply{200, "text/plain", "ok\n"}; });
  // Ready once every cache has synced, and not while any is stale; standbys
  // too, since their warm caches are what makes a failover fast.
  probe_server.Handle("/readyz", [&controller] {
    if (!controller.HasSynced()) return ops::HttpReply{503, "text/plain", "caches not synced\n"};
    if (controller.Stale()) return ops::HttpReply{503, "text/plain", "a watch is stale\n"};
    return ops::HttpReply{200, "text/plain", "ok\n"};
  });
  for (auto [server, flag, address] :
       {std::tuple{&metrics_server, "--metrics-bind-address", &o.metrics_bind_address},
        std::tuple{&probe_server, "--health-probe-bind-address", &o.health_probe_bind_address}}) {
    if (*address == "0") continue;
    if (absl::Status s = server->Start(); !s.ok())
      return bad(absl::StrCat(flag, ": ", s.message()));
  }
  controller.StartInformers();

  // Workers start once the caches are synced (a reconcile on a half-filled
  // cache would recreate what exists) and, with leader election, once leading.
  kube::Cancellation stopping, stop_election;
  std::mutex start_mu;
  bool workers_may_start = true;  // guarded by start_mu; false once shutting down
  auto start_reconciling = [&] {
    while (!controller.HasSynced() && !stopping.WaitFor(absl::Milliseconds(100))) {
    }
    std::lock_guard<std::mutex> l(start_mu);
    if (!workers_may_start) return;
    workers_may_start = false;
    util::Log(util::LogLevel::kInfo, kLogger, "caches synced; reconciling");
    controller.StartWorkers();
  };
  std::atomic<bool> lost_lease{false};
  std::thread runner([&] {
    if (!elector) return start_reconciling();
    // Run blocks while leading; it returns false when the lease was lost.
    std::thread starter;
    const bool graceful = elector->Run(stop_election, [&] {
      metrics.SetLeader(o.leader_election_id, true);
      starter = std::thread(start_reconciling);
    });
    metrics.SetLeader(o.leader_election_id, false);
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
  util::Log(lost_lease ? util::LogLevel::kError : util::LogLevel::kInfo, kLogger,
            lost_lease ? "leader election lost; shutting down" : "signal received; shutting down",
            {{"signal", sig}});
  stopping.Cancel();
  {
    std::lock_guard<std::mutex> l(start_mu);
    workers_may_start = false;
  }
  // In-flight reconciles finish while the lease is still held, then it is released.
  const bool clean = controller.Stop(o.shutdown_grace);
  stop_election.Cancel();
  runner.join();
  util::Log(util::LogLevel::kInfo, kLogger, "stopped", {{"clean", clean}});
  return lost_lease ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Two malloc arenas rather than glibc's eight per core: ~15 threads would
  // otherwise each keep an arena of their own, mostly free (docs/benchmarks.md).
  // Before any thread starts.
  mallopt(M_ARENA_MAX, 2);
  return Run(argc, argv);
}
