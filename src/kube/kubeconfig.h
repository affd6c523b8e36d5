// Finding and reading the API server's address and credentials, in
// client-go's order: --kubeconfig, $KUBECONFIG, in-cluster, ~/.kube/config.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kube/rest_config.h"
#include "util/clock.h"

namespace kube {

struct ConfigSources {
  std::string kubeconfig_flag;
  std::string kubeconfig_env;  // $KUBECONFIG; only its first path is read (no merging)
  std::string home;            // $HOME
  std::string service_host;    // $KUBERNETES_SERVICE_HOST
  std::string service_port;    // $KUBERNETES_SERVICE_PORT
  std::string service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount";

  static ConfigSources FromEnvironment(std::string kubeconfig_flag);
};

// Tokens from files are re-read through clock, which must outlive the config.
absl::StatusOr<RestConfig> LoadRestConfig(const ConfigSources& sources, const util::Clock* clock);

// One kubeconfig document; relative file paths resolve against dir.
absl::StatusOr<RestConfig> ParseKubeconfig(absl::string_view text, absl::string_view dir,
                                           const util::Clock* clock);

absl::StatusOr<RestConfig> InClusterConfig(const ConfigSources& sources, const util::Clock* clock);

}  // namespace kube
