// Finding and reading the API server's address and credentials, in
// client-go's order: --kubeconfig, $KUBECONFIG, in-cluster, ~/.kube/config.
//
// Kubeconfig files are YAML (yaml-cpp; JSON is YAML too). Users authenticate
// with client certificates, a token, a tokenFile (re-read every minute and
// after a 401) or an exec credential plugin (exec_credential.h); auth-provider
// plugins are refused.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kube/rest_config.h"
#include "util/clock.h"

namespace kube {

struct ConfigSources {
  // --kubeconfig: that one file, which must exist; never merged (kubectl's rule).
  std::string kubeconfig_flag;
  // $KUBECONFIG: a ':'-separated list merged as client-go's clientcmd does:
  // files that do not exist are skipped; for clusters, users and contexts the
  // first file that defines a name wins (its entry whole); current-context
  // comes from the first file that sets it; relative paths resolve against
  // the directory of the file that defined the entry. If none of the files
  // exists (or all are empty): in-cluster, else an error (never
  // ~/.kube/config).
  std::string kubeconfig_env;
  std::string home;          // $HOME
  std::string service_host;  // $KUBERNETES_SERVICE_HOST
  std::string service_port;  // $KUBERNETES_SERVICE_PORT
  std::string service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount";

  static ConfigSources FromEnvironment(std::string kubeconfig_flag);
};

// Token files and plugins' expiries are timed by clock, which must outlive the
// config. The first token is fetched here: a missing token file or a failing
// plugin is an error at start, not a 401 later.
absl::StatusOr<RestConfig> LoadRestConfig(const ConfigSources& sources, const util::Clock* clock);

// One kubeconfig (the first document of text); relative file paths resolve
// against dir. Runs nothing and reads only the files the current context
// names (certificates); never throws, whatever text holds.
absl::StatusOr<RestConfig> ParseKubeconfig(absl::string_view text, absl::string_view dir,
                                           const util::Clock* clock);

absl::StatusOr<RestConfig> InClusterConfig(const ConfigSources& sources, const util::Clock* clock);

}  // namespace kube
