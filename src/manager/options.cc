#include "manager/options.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "leaderelection/leader_elector.h"
#include "util/log.h"

namespace manager {

void RegisterFlags(util::FlagSet& flags, Options* o) {
  flags.String("kubeconfig", &o->kubeconfig,
               "kubeconfig file (else $KUBECONFIG, in-cluster, ~/.kube/config)");
  flags.Int("workers", &o->workers, "concurrent reconciles");
  flags.String("metrics-bind-address", &o->metrics_bind_address,
               "serve /metrics here (\"0\": off)");
  flags.Bool("metrics-secure", &o->metrics_secure,
             "serve /metrics over HTTPS to bearer tokens that a TokenReview accepts and a "
             "SubjectAccessReview allows to get /metrics (false: plain HTTP, no authorization)");
  flags.String("metrics-cert-dir", &o->metrics_cert_dir,
               "directory of the metrics serving certificate and key, re-read when they change "
               "(\"\": a self-signed certificate made at start)");
  flags.String("metrics-cert-name", &o->metrics_cert_name,
               "certificate file in --metrics-cert-dir");
  flags.String("metrics-key-name", &o->metrics_key_name, "key file in --metrics-cert-dir");
  flags.String("metrics-token-audience", &o->metrics_token_audience,
               "with --metrics-secure: comma-separated audiences a scraper's token must be minted "
               "for (the TokenReview's spec.audiences; empty: the API server's own)");
  flags.String("health-probe-bind-address", &o->health_probe_bind_address,
               "serve /healthz and /readyz here (\"0\": off)");
  flags.Duration("resync-period", &o->resync_period,
                 "how often every Environment is looked at again");
  flags.Duration("secrets-refresh", &o->secrets_refresh,
                 "how often each Environment's secrets are fetched from the web app again");
  flags.String("web-token-file", &o->web_token_file,
               "bearer token file for the web app (empty: the API server's token)");
  flags.Duration("shutdown-grace", &o->shutdown_grace,
                 "how long in-flight reconciles may finish on SIGTERM");
  flags.Duration("reconcile-timeout", &o->reconcile_timeout,
                 "a reconcile running longer is stuck: logged, counted in "
                 "kube_operator_stuck_workers, and /healthz fails so that the pod is restarted "
                 "(0: never)");
  flags.String("log-level", &o->log_level, "debug|info|warn|error");
  flags.String("log-format", &o->log_format, "json|text");
  flags.Double("kube-api-qps", &o->kube_api_qps,
               "client-side QPS limit towards the API server (0: none; -1: none while the server "
               "announces API Priority and Fairness, else 50)");
  flags.Int("kube-api-burst", &o->kube_api_burst, "client-side burst (when a QPS limit applies)");
  controllers::RegisterFlags(flags, &o->config);
  flags.Bool("leader-elect", &o->leader_elect,
             "elect a leader on a Lease; only the leader reconciles (run 2+ replicas)");
  flags.String("leader-election-namespace", &o->leader_election_namespace,
               "namespace of the Lease (default: the pod's or the kubeconfig's)");
  flags.String("leader-election-id", &o->leader_election_id, "name of the Lease");
  flags.Duration("leader-election-lease-duration", &o->lease_duration,
                 "how long standbys wait after the leader's last renewal");
  flags.Duration("leader-election-renew-deadline", &o->renew_deadline,
                 "how long the leader tries to renew before it stops writing and exits");
  flags.Duration("leader-election-retry-period", &o->retry_period,
                 "how often candidates try to acquire and the leader renews");
  flags.Bool("help", &o->help, "print this help");
  flags.Bool("version", &o->version, "print the version");
}

absl::Status Configure(const Options& o) {
  auto bad = [](auto&&... parts) { return absl::InvalidArgumentError(absl::StrCat(parts...)); };
  static const std::pair<const char*, util::LogLevel> kLevels[] = {
      {"debug", util::LogLevel::kDebug},
      {"info", util::LogLevel::kInfo},
      {"warn", util::LogLevel::kWarn},
      {"error", util::LogLevel::kError}};
  bool level_ok = false;
  for (const auto& [name, level] : kLevels)
    if (o.log_level == name) util::SetLogLevel(level), level_ok = true;
  if (!level_ok)
    return bad("invalid value \"", o.log_level, "\" for --log-level: want debug|info|warn|error");
  if (o.log_format != "json" && o.log_format != "text")
    return bad("invalid value \"", o.log_format, "\" for --log-format: want json|text");
  // The sink must outlive every thread that logs: process lifetime.
  static util::StderrSink text_sink(/*json=*/false);
  if (o.log_format == "text") util::SetLogSink(&text_sink);
  if (o.workers < 1 || o.workers > 256) return bad("invalid value for --workers: want 1..256");
  if (o.resync_period < absl::Seconds(1))
    return bad("invalid value for --resync-period: want at least 1s");
  if (!o.metrics_token_audience.empty() && !o.metrics_secure)
    return bad("--metrics-token-audience needs --metrics-secure (plain metrics check no token)");
  // Below a second every ordinary reconcile that waits for the API server
  // would count as stuck and take the pod down.
  if (o.reconcile_timeout != absl::ZeroDuration() && o.reconcile_timeout < absl::Seconds(1))
    return bad("invalid value for --reconcile-timeout: want 0 (off) or at least 1s");
  if (absl::Status s = controllers::ValidateConfig(o.config); !s.ok()) return s;
  if (o.leader_elect)
    return leaderelection::ValidateConfig({.identity = "-",
                                           .lease_duration = o.lease_duration,
                                           .renew_deadline = o.renew_deadline,
                                           .retry_period = o.retry_period});
  return absl::OkStatus();
}

}  // namespace manager
