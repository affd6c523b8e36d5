// The kube-operator binary as e2e tests run it: a child process with its own
// ports and log file, running as the Helm chart's ServiceAccount (the chart's
// least-privilege ClusterRole), never as admin.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace e2e {

// Installs the chart's RBAC and ServiceAccount (helm template, only those
// templates) into namespace ns once per test binary, and writes a kubeconfig
// holding that ServiceAccount's token. Returns the kubeconfig's path.
absl::StatusOr<std::string> ChartIdentityKubeconfig(const std::string& ns = "kube-operator-e2e");
// A kubeconfig for ServiceAccount ns/name (created if missing, no rights
// granted here); its token in *token when given.
absl::StatusOr<std::string> ServiceAccountKubeconfig(const std::string& ns, const std::string& name,
                                                     std::string* token = nullptr);
// The ServiceAccount token in that kubeconfig (tests check logs never show it).
std::string ChartIdentityToken();

// Runs a shell command; its exit code, and its output in *out.
int RunCommand(const std::string& cmd, std::string* out);

// Every line of an operator's log is one JSON object with time, level, msg
// and logger, and no line shows a token, a key or a certificate.
void ExpectCleanLog(const std::string& log);

class OperatorProcess;
// SIGTERM, then the operator must exit 0 within a minute with a clean log.
void ExpectCleanShutdown(OperatorProcess& op);

// The operator one test suite shares, from its SetUpTestSuite: the CRDs
// applied and served, then the operator `name` started in *op with the
// suite's port base (fixed per suite: suites never share a port) and flags.
void StartSuiteOperator(std::unique_ptr<OperatorProcess>* op, std::string name, int port_base,
                        std::vector<std::string> flags = {});
// From its TearDownTestSuite: a clean shutdown (ExpectCleanShutdown); returns
// the operator's log and leaves *op empty.
std::string StopSuiteOperator(std::unique_ptr<OperatorProcess>* op);

class OperatorProcess {
 public:
  // port_base: metrics on port_base, probes on port_base + 1, both on 127.0.0.1.
  // kubeconfig "": the chart's identity (ChartIdentityKubeconfig).
  OperatorProcess(std::string name, int port_base, std::vector<std::string> extra_args = {},
                  std::string kubeconfig = "");
  ~OperatorProcess();  // SIGKILL if still running
  OperatorProcess(const OperatorProcess&) = delete;
  OperatorProcess& operator=(const OperatorProcess&) = delete;

  // An environment variable for the operator, from the next Start on.
  // Setting KUBECONFIG leaves --kubeconfig out: the operator reads $KUBECONFIG.
  void SetEnv(std::string name, std::string value);
  void Start();
  void Signal(int sig) const;
  // Waits for the exit; the wait status (again on later calls), or -1 on timeout.
  int Wait(absl::Duration timeout);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  const std::string& log_path() const { return log_path_; }
  std::string Log() const;
  // GET of a local endpoint: "<body> <code>", or "" when nothing answers.
  std::string Get(const std::string& path) const;
  // The value of one sample (the text before the value, e.g.
  // `leader_election_master_status{name="x"}`), -1 when absent.
  double Metric(const std::string& sample) const;
  // Sum over the samples of a family whose labels contain every matcher.
  double SumMetric(const std::string& family, const std::vector<std::string>& matchers = {}) const;

 private:
  const std::string name_;
  const int port_base_;
  const std::vector<std::string> extra_args_;
  const std::string kubeconfig_;
  std::vector<std::pair<std::string, std::string>> env_;
  std::string log_path_;
  pid_t pid_ = -1;
  int exit_status_ = -1;
  bool started_ = false;
};

}  // namespace e2e
