#include "e2e/harness.h"

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "kube/api_error.h"
#include "kube/cpprest_transport.h"
#include "kube/kubeconfig.h"

namespace e2e {
namespace {

std::string ShellQuote(absl::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

const util::RealClock* RealClockInstance() {
  static const util::RealClock clock;
  return &clock;
}

}  // namespace

std::string ClusterDir() {
  const char* d = std::getenv("CLUSTER_DIR");
  return d && *d ? d : "/tmp/kube-operator-cluster";
}

std::string KubeconfigPath() { return ClusterDir() + "/kubeconfig"; }

kube::RestConfig AdminConfig() {
  kube::ConfigSources s{.kubeconfig_flag = KubeconfigPath()};
  auto c = kube::LoadRestConfig(s, RealClockInstance());
  if (!c.ok()) {
    ADD_FAILURE() << "no local control plane (run scripts/cluster-up.sh): " << c.status();
    return {};
  }
  return *c;
}

std::unique_ptr<kube::Client> NewClient(const kube::RestConfig& config) {
  auto transport = kube::NewCpprestTransport(config);
  if (!transport.ok()) {
    ADD_FAILURE() << transport.status();
    return nullptr;
  }
  return std::make_unique<kube::Client>(std::move(*transport),
                                        kube::ClientOptions{.token = config.token});
}

kube::Client& Admin() {
  static kube::Client* client = NewClient(AdminConfig()).release();
  return *client;
}

std::string ServiceAccountToken(const std::string& ns, const std::string& name,
                                absl::Duration duration) {
  std::string token;
  WaitFor(absl::Seconds(30), [&] {
    auto out = Kubectl({"create", "token", name, "-n", ns, "--duration",
                        absl::StrCat(absl::ToInt64Seconds(duration), "s")});
    if (!out.ok()) return false;
    token = std::string(absl::StripAsciiWhitespace(*out));
    return !token.empty();
  });
  return token;
}

absl::StatusOr<std::string> Kubectl(const std::vector<std::string>& args,
                                    absl::string_view stdin_data) {
  static absl::Mutex counter_mu;
  static int counter = 0;
  std::string in_path;
  {
    absl::MutexLock l(&counter_mu);
    in_path = absl::StrCat(std::filesystem::temp_directory_path().string(), "/e2e-kubectl-",
                           getpid(), "-", ++counter);
  }
  std::ofstream(in_path) << stdin_data;
  std::vector<std::string> quoted;
  for (const auto& a : args) quoted.push_back(ShellQuote(a));
  const std::string cmd =
      absl::StrCat("kubectl --kubeconfig ", ShellQuote(KubeconfigPath()), " ",
                   absl::StrJoin(quoted, " "), " < ", ShellQuote(in_path), " 2>&1");
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return absl::InternalError("popen failed");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int rc = pclose(p);
  std::filesystem::remove(in_path);
  if (rc != 0)
    return absl::InternalError(
        absl::StrCat("kubectl ", absl::StrJoin(args, " "), " exited ", WEXITSTATUS(rc), ": ", out));
  return out;
}

bool WaitFor(absl::Duration timeout, absl::FunctionRef<bool()> cond, absl::Duration poll) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (cond()) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(poll);
  }
}

absl::Status SetSimulatorFault(const std::string& ns, const std::string& fault) {
  const std::string patch = absl::StrCat(
      R"({"data":{")", ns, R"(":)", fault.empty() ? "null" : absl::StrCat("\"", fault, "\""), "}}");
  auto s = Admin().Patch(kube::resources::kConfigMaps, "kube-system", "kubelet-sim-faults",
                         kube::PatchType::kMerge, patch);
  if (kube::apierrors::IsNotFound(s.status()))
    s = Admin().Create(
        kube::resources::kConfigMaps, "kube-system",
        absl::StrCat(
            R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"kubelet-sim-faults"},)",
            patch.substr(1)));
  return s.status();
}

bool WaitForControllers(absl::Duration timeout) {
  TestNamespace probe("probe");
  return WaitFor(timeout, [&] {
    return Admin().Get(kube::resources::kServiceAccounts, probe.name(), "default").ok();
  });
}

TestNamespace::TestNamespace(absl::string_view prefix)
    : TestNamespace(Exact{}, absl::StrCat("e2e-", prefix, "-",
                                          absl::Uniform<uint32_t>(absl::BitGen(), 0, 1u << 30))) {}

TestNamespace::TestNamespace(Exact, std::string name, absl::string_view labels)
    : name_(std::move(name)) {
  auto created = Admin().Create(
      kube::resources::kNamespaces, "",
      absl::StrCat(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")", name_,
                   R"(","labels":{"e2e":"true")", labels.empty() ? "" : ",", labels, "}}}"));
  EXPECT_TRUE(created.ok()) << created.status();
}

TestNamespace::~TestNamespace() { (void)Admin().Delete(kube::resources::kNamespaces, "", name_); }

}  // namespace e2e
