// The operator started out of cluster with kubeconfigs as people have them
// (issue: flow style and JSON stopped it at start): flow-style YAML, JSON as
// kubectl prints it, a $KUBECONFIG list merged from several files, and an exec
// credential plugin. Each time it runs as the chart's ServiceAccount against
// the real control plane, reaches /readyz 200 (every informer synced) and
// exits 0 on SIGTERM with a clean log.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "e2e/harness.h"
#include "e2e/operator_process.h"
#include "gtest/gtest.h"
#include "kube/object.h"

namespace e2e {
namespace {

// Port bases of this file: 28300-28311 (two ports each).
constexpr char kNamespace[] = "kube-operator-e2e";

class KubeconfigE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Kubectl({"apply", "-f", SOURCE_ROOT "/crds/"}).ok());
    auto chart = ChartIdentityKubeconfig(kNamespace);
    ASSERT_TRUE(chart.ok()) << chart.status();
    chart_kubeconfig_ = *chart;
    token_ = ChartIdentityToken();
    ASSERT_FALSE(token_.empty());
    const kube::RestConfig admin = AdminConfig();
    server_ = admin.server;
    ca_pem_ = admin.ca_pem;
    ASSERT_FALSE(ca_pem_.empty());
    dir_ = std::filesystem::path(ClusterDir()) /
           absl::StrCat("kubeconfig-e2e-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    const auto p = dir_ / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
  std::string Read(const std::string& name) const {
    std::ifstream in(dir_ / name);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  // Starts the operator, waits until /readyz answers 200, stops it with
  // SIGTERM: it must exit 0 with a clean log.
  void ExpectReadyThenCleanShutdown(OperatorProcess& op) {
    op.Start();
    EXPECT_TRUE(WaitFor(absl::Seconds(60), [&] { return op.Get("/readyz") == "ok\n 200"; }))
        << "readyz: " << op.Get("/readyz") << "\nlog:\n"
        << op.Log();
    ExpectCleanShutdown(op);
  }

  std::string chart_kubeconfig_, token_, server_, ca_pem_;
  std::filesystem::path dir_;
};

TEST_F(KubeconfigE2E, FlowStyleYaml) {
  const std::string path = Write(
      "config", absl::StrCat("apiVersion: v1\nkind: Config\ncurrent-context: e2e\n",
                             "clusters:\n- {name: local, cluster: {server: '", server_,
                             "', certificate-authority-data: ", absl::Base64Escape(ca_pem_), "}}\n",
                             "contexts:\n- name: e2e\n",
                             "  context: {cluster: local, user: op, namespace: ", kNamespace, "}\n",
                             "users: [{name: op, user: {token: \"", token_, "\"}}]\n"));
  OperatorProcess op("kcflow", 28300, {}, path);
  ExpectReadyThenCleanShutdown(op);
}

TEST_F(KubeconfigE2E, JsonAsKubectlPrintsIt) {
  std::string json;
  ASSERT_EQ(RunCommand(absl::StrCat("kubectl config view -o json --raw --kubeconfig ",
                                    chart_kubeconfig_, " 2>&1"),
                       &json),
            0)
      << json;
  ASSERT_TRUE(absl::StartsWith(json, "{")) << json.substr(0, 200);
  ASSERT_TRUE(absl::StrContains(json, "\"current-context\"")) << json.substr(0, 200);
  OperatorProcess op("kcjson", 28302, {}, Write("config.json", json));
  ExpectReadyThenCleanShutdown(op);
  // The same as PowerShell 5's `kubectl config view -o json --raw > file`
  // writes it: UTF-16LE with a byte-order mark.
  std::string utf16 = "\xFF\xFE";
  for (char c : json) utf16.append({c, '\0'});
  OperatorProcess wide("kcjson16", 28310, {}, Write("config-utf16.json", utf16));
  ExpectReadyThenCleanShutdown(wide);
}

TEST_F(KubeconfigE2E, MergedKubeconfigList) {
  // a: the cluster (its CA a path relative to a) and the current context.
  // b: the context, the user (a token file relative to b), and a cluster and
  // current-context of its own that must lose to a's: if they won, the
  // operator would dial port 1 or find no context.
  Write("a/ca.crt", ca_pem_);
  const std::string a = Write(
      "a/config", absl::StrCat("current-context: e2e\nclusters:\n- name: local\n  cluster:\n",
                               "    server: ", server_, "\n    certificate-authority: ca.crt\n"));
  Write("b/token", token_);
  const std::string b = Write(
      "b/config",
      absl::StrCat("current-context: nowhere\nclusters:\n- name: local\n  cluster:\n",
                   "    server: https://127.0.0.1:1\n", "contexts:\n- name: e2e\n  context:\n",
                   "    cluster: local\n    user: op\n    namespace: ", kNamespace, "\n",
                   "users:\n- name: op\n  user:\n    tokenFile: token\n"));
  OperatorProcess op("kcmerge", 28304);
  op.SetEnv("KUBECONFIG", absl::StrCat((dir_ / "missing").string(), ":", a, ":", b));
  ExpectReadyThenCleanShutdown(op);
}

// The plugin prints the chart identity's token (read from a file: the script
// holds no secret) and records each run, its arguments, a variable from the
// kubeconfig and KUBERNETES_EXEC_INFO.
class KubeconfigE2EExec : public KubeconfigE2E {
 protected:
  // first_run: the token and expiry of run 1 (later runs: the real token,
  // valid for an hour).
  std::string Kubeconfig(const std::string& first_token, const std::string& first_expiry) {
    Write("token", token_);
    Write("bin/plugin.sh", absl::StrCat(R"(#!/bin/sh
d=')",
                                        dir_.string(), R"('
n=$(( $(cat "$d/count" 2>/dev/null || echo 0) + 1 ))
echo $n > "$d/count"
printf '%s\n' "$@" > "$d/args"
printf '%s' "$PLUGIN_REGION" > "$d/env"
printf '%s' "$KUBERNETES_EXEC_INFO" > "$d/info"
if [ "$n" = 1 ]; then
  token=')",
                                        first_token, R"(' expiry=')", first_expiry, R"('
else
  token=$(cat "$d/token") expiry=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
fi
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"%s"}}\n' "$token" "$expiry"
)"));
    chmod((dir_ / "bin/plugin.sh").c_str(), 0755);
    return Write("config", absl::StrCat(R"(apiVersion: v1
kind: Config
current-context: e2e
clusters:
- name: local
  cluster:
    server: )",
                                        server_, R"(
    certificate-authority-data: )",
                                        absl::Base64Escape(ca_pem_), R"(
contexts:
- name: e2e
  context:
    cluster: local
    user: plugin
    namespace: )",
                                        kNamespace, R"(
users:
- name: plugin
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./bin/plugin.sh
      args:
      - get-token
      - --cluster
      - e2e
      env:
      - name: PLUGIN_REGION
        value: eu-west-1
      interactiveMode: IfAvailable
      provideClusterInfo: true
      installHint: the e2e test writes bin/plugin.sh itself
)"));
  }
  int Runs() const {
    int n = 0;
    return absl::SimpleAtoi(absl::StripAsciiWhitespace(Read("count")), &n) ? n : 0;
  }
  void ExpectArgsEnvAndInfo() {
    EXPECT_EQ(Read("args"), "get-token\n--cluster\ne2e\n");
    EXPECT_EQ(Read("env"), "eu-west-1");
    auto info = kube::Object::Parse(Read("info"));
    ASSERT_TRUE(info.ok()) << Read("info");
    EXPECT_EQ(info->Str({"spec", "cluster", "server"}), server_);
    EXPECT_EQ(info->Str({"spec", "cluster", "certificate-authority-data"}),
              absl::Base64Escape(ca_pem_));
  }
};

TEST_F(KubeconfigE2EExec, TokenFromThePluginReExecutedAfterItsExpiry) {
  // Run 1 (at start) hands out the real token already expired: the first
  // request runs the plugin again; its token then serves every request.
  const std::string config = Kubeconfig(token_, "2020-01-01T00:00:00Z");
  OperatorProcess op("kcexec", 28306, {}, config);
  ExpectReadyThenCleanShutdown(op);
  EXPECT_EQ(Runs(), 2);
  ExpectArgsEnvAndInfo();
}

TEST_F(KubeconfigE2EExec, TokenRefusedByTheServerIsReplaced) {
  // Run 1 hands out a token the API server refuses (401): the client
  // invalidates it and the plugin runs again.
  const std::string config = Kubeconfig("not-a-valid-token", "2099-01-01T00:00:00Z");
  OperatorProcess op("kcexec401", 28308, {}, config);
  ExpectReadyThenCleanShutdown(op);
  EXPECT_GE(Runs(), 2);
  ExpectArgsEnvAndInfo();
}

}  // namespace
}  // namespace e2e
