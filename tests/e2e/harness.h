// The e2e harness: the shared local control plane (scripts/cluster-up.sh),
// kubectl, a client built from the project's own code, and condition waits.
//
// Each test works in namespaces of its own, so tests share one control plane.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "kube/client.h"
#include "kube/rest_config.h"

namespace e2e {

// $CLUSTER_DIR, else /tmp/kube-operator-cluster.
std::string ClusterDir();
std::string KubeconfigPath();

// The admin identity's RestConfig and a fresh client for it.
kube::RestConfig AdminConfig();
std::unique_ptr<kube::Client> NewClient(const kube::RestConfig& config);
// One admin client shared by a test binary.
kube::Client& Admin();

// Runs kubectl (first on PATH) against the cluster; the output (stdout and
// stderr) on success, an error carrying it otherwise.
absl::StatusOr<std::string> Kubectl(const std::vector<std::string>& args,
                                    absl::string_view stdin_data = {});

// A bound token of ServiceAccount ns/name from the TokenRequest API (there are
// no token Secrets since 1.24), valid for duration; empty if none came within 30 s
// (the ServiceAccount just created, not yet visible).
std::string ServiceAccountToken(const std::string& ns, const std::string& name,
                                absl::Duration duration = absl::Hours(24));

// Polls cond until it holds or timeout passes; true if it held.
bool WaitFor(absl::Duration timeout, absl::FunctionRef<bool()> cond,
             absl::Duration poll = absl::Milliseconds(100));

// True once the controller-manager serves the API again: a fresh namespace
// gets its default ServiceAccount. Tests that disrupt the control plane call
// it before they end, so later tests find it whole.
bool WaitForControllers(absl::Duration timeout);

// Sets (or, with an empty fault, clears) the kubelet simulator's fault for
// every pod of namespace ns: tools/kubelet-sim/README.md, e.g. "web=oomkilled".
absl::Status SetSimulatorFault(const std::string& ns, const std::string& fault);

// A namespace of the test's own: e2e-<prefix>-<random>, deleted afterwards.
class TestNamespace {
 public:
  explicit TestNamespace(absl::string_view prefix);
  // A namespace of exactly this name (the caller makes it unique).
  struct Exact {};
  // labels: a JSON object's members, e.g. R"("a":"b")", beside e2e=true.
  TestNamespace(Exact, std::string name, absl::string_view labels = "");
  ~TestNamespace();
  TestNamespace(const TestNamespace&) = delete;
  TestNamespace& operator=(const TestNamespace&) = delete;
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

}  // namespace e2e
