#include "e2e/operator_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "api/v1alpha1/resources.h"
#include "e2e/harness.h"
#include "gtest/gtest.h"
#include "kube/api_error.h"
#include "kube/object.h"

namespace e2e {
namespace {

std::string Run(const std::string& cmd) {
  std::string out;
  RunCommand(cmd, &out);
  return out;
}

std::string& Token() {
  static std::string token;
  return token;
}

}  // namespace

int RunCommand(const std::string& cmd, std::string* out) {
  out->clear();
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out->append(buf, n);
  const int rc = pclose(p);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

void ExpectCleanLog(const std::string& log) {
  int lines = 0;
  for (absl::string_view line : absl::StrSplit(log, '\n', absl::SkipEmpty())) {
    ++lines;
    auto obj = kube::Object::Parse(line);
    ASSERT_TRUE(obj.ok()) << "not a JSON object: " << line;
    for (const char* key : {"time", "level", "msg", "logger"})
      EXPECT_FALSE(obj->Str({key}).empty()) << "no " << key << ": " << line;
    const std::string token = ChartIdentityToken();
    EXPECT_TRUE(token.empty() || !absl::StrContains(line, token.substr(0, 40)))
        << "a token in the log: " << line;
    for (const char* secret : {"BEGIN CERTIFICATE", "PRIVATE KEY", "Bearer ", "eyJhbGci"})
      EXPECT_FALSE(absl::StrContains(line, secret)) << "a secret in the log: " << line;
  }
  EXPECT_GT(lines, 0);
}

absl::StatusOr<std::string> ServiceAccountKubeconfig(const std::string& ns, const std::string& name,
                                                     std::string* token_out) {
  (void)Kubectl({"create", "namespace", ns});
  (void)Kubectl({"create", "serviceaccount", name, "-n", ns});
  const std::string token = ServiceAccountToken(ns, name);
  if (token.empty()) return absl::DeadlineExceededError("no token for ServiceAccount " + name);
  const std::string admin = Run("cat " + KubeconfigPath());
  const size_t users = admin.find("users:");
  if (users == std::string::npos) return absl::InternalError("admin kubeconfig without users");
  const std::string path = absl::StrCat(ClusterDir(), "/", ns, "-", name, ".kubeconfig");
  std::ofstream(path)
      << admin.substr(0, users) << "users:\n- name: admin\n  user:\n    token: " << token << "\n"
      << "contexts:\n- name: local\n  context:\n    cluster: local\n    user: admin\n"
      << "    namespace: " << ns << "\ncurrent-context: local\n";
  if (token_out) *token_out = token;
  return path;
}

absl::StatusOr<std::string> ChartIdentityKubeconfig(const std::string& ns) {
  static std::mutex mu;
  static std::string path;
  std::lock_guard<std::mutex> l(mu);
  if (!Token().empty()) return path;
  (void)Kubectl({"create", "namespace", ns});
  // The chart's own manifests: what a Helm install would grant, no more.
  const std::string rbac = Run(absl::StrCat(
      "helm template kube-operator " SOURCE_ROOT "/deploy/kube-operator --namespace ", ns,
      " --show-only templates/rbac.yaml --show-only templates/serviceaccount.yaml 2>&1"));
  if (auto s = Kubectl({"apply", "-f", "-"}, rbac); !s.ok()) return s.status();
  auto p = ServiceAccountKubeconfig(ns, "kube-operator", &Token());
  if (!p.ok()) return p.status();
  return path = *p;
}

std::string ChartIdentityToken() { return Token(); }

OperatorProcess::OperatorProcess(std::string name, int port_base,
                                 std::vector<std::string> extra_args, std::string kubeconfig)
    : name_(std::move(name)),
      port_base_(port_base),
      extra_args_(std::move(extra_args)),
      kubeconfig_(std::move(kubeconfig)) {
  log_path_ = absl::StrCat(ClusterDir(), "/kube-operator-", name_, ".log");
}

OperatorProcess::~OperatorProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

void OperatorProcess::SetEnv(std::string name, std::string value) {
  env_.emplace_back(std::move(name), std::move(value));
}

void OperatorProcess::Start() {
  const bool kubeconfig_env =
      std::any_of(env_.begin(), env_.end(), [](const auto& e) { return e.first == "KUBECONFIG"; });
  std::vector<std::string> args = {
      "kube-operator", "--failure-deadline=2m",
      absl::StrCat("--metrics-bind-address=127.0.0.1:", port_base_),
      absl::StrCat("--health-probe-bind-address=127.0.0.1:", port_base_ + 1)};
  if (!kubeconfig_env) {
    auto kubeconfig =
        kubeconfig_.empty() ? ChartIdentityKubeconfig() : absl::StatusOr<std::string>(kubeconfig_);
    if (!kubeconfig.ok()) {
      ADD_FAILURE() << kubeconfig.status();
      return;
    }
    args.push_back("--kubeconfig=" + *kubeconfig);
  }
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  // Everything is prepared here, not in the child: the log is truncated
  // before Start returns (a test reading it at once must not see the last
  // run's), and after fork only async-signal-safe calls are allowed.
  // A fresh log per object; a restart appends to it.
  const int log_fd = open(log_path_.c_str(),
                          O_WRONLY | O_CREAT | O_CLOEXEC | (started_ ? O_APPEND : O_TRUNC), 0644);
  if (log_fd < 0) {
    ADD_FAILURE() << "cannot open " << log_path_;
    return;
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> own = {"POD_NAME=" + name_};
  for (const auto& [name, value] : env_) own.push_back(absl::StrCat(name, "=", value));
  std::vector<char*> envp;
  for (char** e = environ; *e; ++e) {
    const absl::string_view entry(*e);
    const absl::string_view name = entry.substr(0, entry.find('=') + 1);
    if (std::none_of(own.begin(), own.end(),
                     [&](const std::string& o) { return absl::StartsWith(o, name); }))
      envp.push_back(*e);
  }
  for (auto& o : own) envp.push_back(o.data());
  envp.push_back(nullptr);
  pid_ = fork();
  if (pid_ == 0) {
    dup2(log_fd, STDERR_FILENO);
    execve(KUBE_OPERATOR_BIN, argv.data(), envp.data());
    _exit(127);
  }
  close(log_fd);
  EXPECT_GT(pid_, 0);
  started_ = true;
}

void OperatorProcess::Signal(int sig) const {
  if (pid_ > 0) kill(pid_, sig);
}

int OperatorProcess::Wait(absl::Duration timeout) {
  if (pid_ <= 0) return exit_status_;
  int status = -1;
  const bool exited = WaitFor(
      timeout, [&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, absl::Milliseconds(20));
  if (!exited) return -1;
  pid_ = -1;
  return exit_status_ = status;
}

std::string OperatorProcess::Log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string OperatorProcess::Get(const std::string& path) const {
  const int port = path == "/metrics" ? port_base_ : port_base_ + 1;
  return Run(absl::StrCat("curl -s -m 5 -w ' %{http_code}' http://127.0.0.1:", port, path));
}

double OperatorProcess::Metric(const std::string& sample) const {
  for (absl::string_view line : absl::StrSplit(Get("/metrics"), '\n')) {
    if (!absl::ConsumePrefix(&line, sample) || !absl::ConsumePrefix(&line, " ")) continue;
    double v;
    if (absl::SimpleAtod(line, &v)) return v;
  }
  return -1;
}

double OperatorProcess::SumMetric(const std::string& family,
                                  const std::vector<std::string>& matchers) const {
  double sum = 0;
  for (absl::string_view line : absl::StrSplit(Get("/metrics"), '\n')) {
    if (!absl::StartsWith(line, family + "{") && !absl::StartsWith(line, family + " ")) continue;
    bool match = true;
    for (const auto& m : matchers) match = match && absl::StrContains(line, m);
    double v;
    if (match && absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v)) sum += v;
  }
  return sum;
}

void ExpectCleanShutdown(OperatorProcess& op) {
  op.Signal(SIGTERM);
  const int status = op.Wait(absl::Seconds(60));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "exit status " << status;
  ExpectCleanLog(op.Log());
}

void StartSuiteOperator(std::unique_ptr<OperatorProcess>* op, std::string name, int port_base,
                        std::vector<std::string> flags) {
  ASSERT_TRUE(Kubectl({"apply", "-f", SOURCE_ROOT "/crds/"}).ok());
  ASSERT_TRUE(WaitFor(absl::Seconds(30), [] {
    return Admin().List(v1alpha1::kEnvironments, "", {}).ok() &&
           Admin().List(v1alpha1::kProjects, "", {}).ok();
  })) << "the CRDs are not served";
  *op = std::make_unique<OperatorProcess>(std::move(name), port_base, std::move(flags));
  (*op)->Start();
}

std::string StopSuiteOperator(std::unique_ptr<OperatorProcess>* op) {
  if (!*op) return "";
  ExpectCleanShutdown(**op);
  std::string log = (*op)->Log();
  op->reset();
  return log;
}

}  // namespace e2e
