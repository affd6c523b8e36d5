// RestConfig: everything needed to reach one API server as one identity.
#pragma once

#include <memory>
#include <string>

#include "kube/token_source.h"

namespace kube {

struct RestConfig {
  std::string server;  // https://host:port, no trailing slash
  std::string ca_pem;  // empty: the system trust store
  std::string client_cert_pem;
  std::string client_key_pem;
  // Only an explicit `insecure-skip-tls-verify: true` in a kubeconfig sets this.
  bool insecure_skip_tls_verify = false;
  std::shared_ptr<TokenSource> token;  // null: no bearer token
  std::string user_agent = "kube-operator";
  std::string default_namespace = "default";  // the context's or the pod's namespace
};

}  // namespace kube
