// Options: every setting of the kube-operator process, each a flag (and
// $KUBE_OPERATOR_<FLAG>), registered here next to the fields it fills; the
// Environments' own settings (OperatorConfig) register theirs beside it.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "controllers/environment/config.h"
#include "util/flags.h"

namespace manager {

struct Options {
  std::string kubeconfig;
  int workers = 4;
  absl::Duration resync_period = absl::Seconds(5);
  // The team's secrets from the web app (--web-url): how often each is
  // fetched again, and the bearer token file sent (empty: the API token, the
  // pod's ServiceAccount token in-cluster).
  absl::Duration secrets_refresh = absl::Minutes(5);
  std::string web_token_file;
  absl::Duration shutdown_grace = absl::Seconds(20);
  // One reconcile running longer than this is stuck: logged, counted in
  // kube_operator_stuck_workers, and /healthz fails (docs/reliability.md,
  // "Operator process faults"). Zero: never.
  absl::Duration reconcile_timeout = absl::Minutes(5);
  std::string log_level = "info";
  std::string log_format = "json";
  double kube_api_qps = -1;  // automatic (docs/benchmarks.md, "Burst")
  int kube_api_burst = 100;
  std::string metrics_bind_address = ":8080";
  std::string health_probe_bind_address = ":8081";
  // Off by default so that an existing `--metrics-bind-address=:8080` scrape
  // keeps working; the Helm chart turns it on (on :8443).
  bool metrics_secure = false;
  std::string metrics_cert_dir;  // "": a self-signed certificate
  std::string metrics_cert_name = "tls.crt";
  std::string metrics_key_name = "tls.key";
  // Comma-separated TokenReview audiences of the metrics bearer tokens
  // (ops::TokenReviewAuthenticator); empty: the API server's own.
  std::string metrics_token_audience;
  bool leader_elect = false;
  std::string leader_election_namespace;  // "": the kubeconfig's or the pod's namespace
  std::string leader_election_id = "kube-operator-leader";
  absl::Duration lease_duration = absl::Seconds(15);
  absl::Duration renew_deadline = absl::Seconds(10);
  absl::Duration retry_period = absl::Seconds(2);
  bool help = false, version = false;
  controllers::OperatorConfig config;
};

void RegisterFlags(util::FlagSet& flags, Options* o);

// Checks the values the flags cannot (ranges, enums, quantities, election
// timings) and sets up logging; InvalidArgument names the flag.
absl::Status Configure(const Options& o);

}  // namespace manager
