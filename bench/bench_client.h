// The API client the live-cluster benches (scale_bench, request_cost_bench)
// drive the control plane with, and the namespace they work in.
#pragma once

#include <cstdio>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "kube/api_error.h"
#include "kube/client.h"
#include "kube/cpprest_transport.h"
#include "kube/kubeconfig.h"
#include "kube/resource.h"
#include "util/clock.h"

namespace bench {

// A client from `kubeconfig` (no client-side limit: the bench is the load),
// with `ns` created if missing.
inline absl::StatusOr<std::unique_ptr<kube::Client>> Connect(const std::string& kubeconfig,
                                                             const std::string& ns) {
  static const util::RealClock clock;
  auto config = kube::LoadRestConfig(kube::ConfigSources::FromEnvironment(kubeconfig), &clock);
  if (!config.ok()) return config.status();
  auto transport = kube::NewCpprestTransport(*config, {.pool_threads = 8});
  if (!transport.ok()) return transport.status();
  auto client = std::make_unique<kube::Client>(std::move(*transport),
                                               kube::ClientOptions{.token = config->token});
  if (auto s = client->Create(kube::resources::kNamespaces, "",
                              absl::StrCat(R"({"metadata":{"name":")", ns, R"("}})"));
      !s.ok() && !kube::apierrors::IsAlreadyExists(s.status()))
    return s.status();
  return client;
}

}  // namespace bench
