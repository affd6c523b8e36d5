// kube-operator: turns Environment resources into running environments.
#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "controllers/builders.h"
#include "controllers/environment_controller.h"
#include "kube/cpprest_transport.h"
#include "kube/kubeconfig.h"
#include "ops/http_server.h"
#include "ops/metrics.h"
#include "util/flags.h"
#include "util/log.h"

namespace {

constexpr char kVersion[] = "0.1.0";
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
  bool help = false, version = false;
  controllers::OperatorConfig config;
};

int Run(int argc, char** argv) {
  Options o;
  util::FlagSet flags;
  flags.String("kubeconfig", &o.kubeconfig,
               "kubeconfig file (else $KUBECONFIG, in-cluster, ~/.kube/config)");
  flags.Int("workers", &o.workers, "concurrent reconciles");
  flags.String("metrics-bind-address", &o.metrics_bind_address, "serve /metrics here (\"0\": off)");
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
    std::printf("kube-operator %s\n", kVersion);
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

  // Signals go to the main thread only: block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  static const util::RealClock clock;
  auto config = kube::LoadRestConfig(kube::ConfigSources::FromEnvironment(o.kubeconfig), &clock);
  if (!config.ok()) return bad(std::string(config.status().message()));
  auto transport = kube::NewCpprestTransport(*config);
  if (!transport.ok()) return bad(std::string(transport.status().message()));
  const std::string host = config->server.substr(config->server.find("://") + 3);
  ops::Metrics metrics("environment", host, o.workers);
  kube::Client client(std::move(*transport), {.qps = o.kube_api_qps,
                                              .burst = o.kube_api_burst,
                                              .token = config->token,
                                              .observer = &metrics});
  util::Log(util::LogLevel::kInfo, kLogger, "starting",
            {{"version", kVersion}, {"server", config->server}, {"workers", o.workers}});

  controllers::EnvironmentController controller(&client, {.workers = o.workers,
                                                          .resync_period = o.resync_period,
                                                          .config = o.config,
                                                          .queue_metrics = &metrics,
                                                          .worker_observer = &metrics});
  metrics.OnScrape([&controller](ops::Metrics& m) {
    m.SetUnfinishedWork("environment", controller.queue().UnfinishedWork(),
                        controller.queue().LongestRunning());
  });
  ops::HttpServer metrics_server(o.metrics_bind_address);
  ops::HttpServer probe_server(o.health_probe_bind_address);
  metrics_server.Handle("/metrics", [&metrics] {
    return ops::HttpReply{200, "text/plain; version=0.0.4; charset=utf-8", metrics.Scrape()};
  });
  probe_server.Handle("/healthz", [] { return ops::HttpReply{200, "text/plain", "ok\n"}; });
  // Ready once every cache has synced, and not while any is stale.
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
  // Caches first: a reconcile on a half-filled cache would recreate what exists.
  kube::Cancellation synced;
  std::thread waiter([&] {
    while (!controller.HasSynced() && !synced.WaitFor(absl::Milliseconds(100))) {
    }
    if (!synced.cancelled()) {
      util::Log(util::LogLevel::kInfo, kLogger, "caches synced; reconciling");
      controller.StartWorkers();
    }
  });
  int sig = 0;
  sigwait(&signals, &sig);
  util::Log(util::LogLevel::kInfo, kLogger, "signal received; shutting down", {{"signal", sig}});
  synced.Cancel();
  waiter.join();
  const bool clean = controller.Stop(o.shutdown_grace);
  util::Log(util::LogLevel::kInfo, kLogger, "stopped", {{"clean", clean ? "true" : "false"}});
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv); }
